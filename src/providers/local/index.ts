/**
 * `local`: a folder — a NAS mount, a USB disk, or a folder a desktop sync client mirrors — laid out like
 * .git/lfs/objects (<root>/<oid[0:2]>/<oid[2:4]>/<oid>). Objects appear under their name only when complete
 * (write to a partial, fsync, rename). Its upload "session" is that partial, named from the oid and host, so
 * an interrupted push resumes from the partial's length with no keychain at all.
 *
 * A partial left by an earlier run is not trusted: a kill or a power cut can leave it with damaged bytes, or with
 * a length that covers blocks never written. Its prefix is hashed when it is continued, the new bytes as they are
 * written, and a partial is renamed to the oid's name only when the whole hashes to the oid (else it is deleted
 * and the object starts over). A partial this process wrote whole from the source (the kernel copy, whose source
 * the bridge hashes beside it) needs no second read.
 */
import { createHash, type Hash, randomBytes } from 'node:crypto';
import {
  closeSync,
  createWriteStream,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { copyFile, mkdir, open, readdir, rename, rm, stat, truncate } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BridgeError, configError, notFound, toBridgeError } from '../../errors.js';
import { fsReason, sizeOf } from '../../fsutil.js';
import { objectKey } from '../layout.js';
import type {
  Capabilities,
  ChunkResult,
  PendingUpload,
  Provider,
  ProviderContext,
  ProviderModule,
  ReadTarget,
  RemoteObject,
  UploadSession,
} from '../types.js';

const MiB = 1024 * 1024;

export const caps = {
  chunkAlign: 1,
  chunkMax: Number.MAX_SAFE_INTEGER,
  chunkDefault: 64 * MiB, // only a resume checkpoint here: the partial keeps every byte written anyway
  simpleUploadMax: 4 * MiB,
  serverHash: 'none',
  sessionsSurviveRestart: true,
  sessionFromOid: true,
  parallelRanges: false, // one stream already saturates a disk; parallel ranges would only add seeks
  needsKeychain: false,
} as const satisfies Capabilities;

/** Partials live inside the root, so the final rename never crosses a filesystem. */
const INCOMING = '.lfs-bridge-incoming';

interface LocalSession extends UploadSession {
  partial: string;
  oid: string;
  size: number;
}

/** What this process knows of a session's partial: SHA-256 of its first `pos` bytes, or that it wrote it whole. */
type PartialCheck = { sha: Hash; pos: number } | 'copied';
const checks = new WeakMap<UploadSession, PartialCheck>();

const HASH_READ = 2 * MiB;

/** Feeds [from, to) of `path` into `sha`. */
async function hashRange(path: string, sha: Hash, from: number, to: number): Promise<void> {
  if (to <= from) return;
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(HASH_READ);
    for (let at = from; at < to; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(HASH_READ, to - at), at);
      if (bytesRead === 0) throw new BridgeError('Corrupt', false, `${path} ended at ${at}, expected ${to} bytes`);
      sha.update(buf.subarray(0, bytesRead));
      at += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

/** The session's check brought to byte `to` of its partial (hashing from disk what it has not seen). */
async function checkedTo(s: LocalSession, to: number): Promise<{ sha: Hash; pos: number }> {
  let c = checks.get(s);
  if (c === undefined || c === 'copied' || c.pos > to) c = { sha: createHash('sha256'), pos: 0 };
  await hashRange(s.partial, c.sha, c.pos, to);
  c.pos = to;
  checks.set(s, c);
  return c;
}

function rootOf(ctx: ProviderContext): string {
  const root = ctx.config.root;
  if (!isAbsolute(root))
    throw configError(
      `lfs-bridge.root must be an absolute folder for local, got "${root}": run lfs-bridge setup again`,
    );
  return root;
}

async function checkRoot(root: string): Promise<void> {
  try {
    if (!(await stat(root)).isDirectory()) throw configError(`lfs-bridge.root ${root} is not a folder`);
  } catch (e) {
    if (e instanceof BridgeError) throw e;
    throw configError(
      `the local store ${root} is not reachable (${(e as NodeJS.ErrnoException).code}): is the disk or share mounted? (lfs-bridge.root)`,
    );
  }
}

class LocalProvider implements Provider {
  readonly name = 'local' as const;
  readonly caps = caps;
  readonly account = '';
  readonly destination: string;

  /** Folders known to exist: a push of many small objects would otherwise mkdir twice per object. */
  private readonly dirs = new Set<string>();
  private rootCheckedAt = 0;

  constructor(readonly root: string) {
    this.destination = createHash('sha256').update(root).digest('hex').slice(0, 12);
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.dirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    this.dirs.add(dir);
  }

  /** A miss under a vanished mount must not read as "object missing"; checked at most every few seconds. */
  private async checkRootSoon(): Promise<void> {
    if (Date.now() - this.rootCheckedAt < 5000) return;
    await checkRoot(this.root);
    this.rootCheckedAt = Date.now();
  }

  private path(oid: string): string {
    return join(this.root, ...objectKey(oid));
  }

  async stat(oid: string): Promise<RemoteObject | null> {
    try {
      const st = statSync(this.path(oid)); // one syscall: cheaper than a thread-pool round trip
      return st.isFile() ? { size: st.size } : null; // a non-file there is reported when the commit meets it
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        await this.checkRootSoon();
        return null;
      }
      throw toBridgeError(e, `local store ${this.root}`);
    }
  }

  async putSmall(oid: string, size: number, body: Readable | Buffer): Promise<RemoteObject> {
    if (Buffer.isBuffer(body)) {
      try {
        return this.putTiny(oid, size, body);
      } catch (e) {
        throw toBridgeError(e, 'local store');
      }
    }
    const dir = join(this.root, INCOMING);
    await this.ensureDir(dir);
    const tmp = join(dir, `${oid}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
    try {
      const ws = createWriteStream(tmp, { highWaterMark: MiB, flush: true });
      await pipeline(body, ws);
      return await this.commit(tmp, oid, size, ws.bytesWritten);
    } catch (e) {
      await rm(tmp, { force: true });
      throw toBridgeError(e, 'local store');
    }
  }

  /**
   * A small object in one piece, with synchronous calls: the agent serves one request at a time, and a dozen
   * thread-pool round trips per 4 KiB object cost more than the work (1000 × 4 KiB in one agent: 2.1 s → 0.65 s).
   */
  private putTiny(oid: string, size: number, body: Buffer): RemoteObject {
    if (body.length !== size) {
      throw new BridgeError('Corrupt', false, `local: ${oid} has ${body.length} bytes, expected ${size}`);
    }
    const final = this.path(oid);
    const dir = join(final, '..');
    if (!this.dirs.has(dir)) {
      mkdirSync(dir, { recursive: true });
      this.dirs.add(dir);
    }
    // Written beside its final name (a rename within one folder is the cheapest), under a name no reader takes.
    const tmp = join(dir, `.${oid}.${process.pid}.tmp`);
    try {
      const fd = openSync(tmp, 'w', 0o644);
      try {
        writeSync(fd, body);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, final);
    } catch (e) {
      rmSync(tmp, { force: true });
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && this.dirs.delete(dir)) return this.putTiny(oid, size, body); // folder removed meanwhile
      if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'ENOTDIR' || code === 'EEXIST') {
        throw new BridgeError('Conflict', false, `${final} exists in the local store and is not a file: remove it`);
      }
      throw e;
    }
    return { size };
  }

  async startUpload(oid: string, size: number): Promise<UploadSession> {
    await this.ensureDir(join(this.root, INCOMING));
    const partial = join(this.root, INCOMING, `${oid}.${hostname()}.part`);
    return { partial, oid, size } satisfies LocalSession;
  }

  async uploadChunk(session: UploadSession, offset: number, _length: number, body: Readable): Promise<ChunkResult> {
    const s = session as LocalSession;
    try {
      const have = await sizeOf(s.partial);
      if (have < offset)
        throw new BridgeError('Conflict', false, `partial ${s.partial} has ${have} bytes, chunk starts at ${offset}`);
      if (have > offset) await truncate(s.partial, offset);
      // The bytes already there (an earlier run's, maybe damaged) are hashed before new ones follow them.
      const c = offset === 0 ? { sha: createHash('sha256'), pos: 0 } : await checkedTo(s, offset);
      checks.delete(s); // until this write has landed whole
      const flags = offset === 0 ? 'w' : 'a';
      const hashing = new Transform({
        transform(chunk: Buffer, _enc, done) {
          c.sha.update(chunk);
          c.pos += chunk.length;
          done(null, chunk);
        },
      });
      await pipeline(body, hashing, createWriteStream(s.partial, { flags, highWaterMark: MiB, flush: true }));
      const now = await sizeOf(s.partial); // what is really there, not what was meant to be
      if (now === c.pos) checks.set(s, c);
      return { offset: now };
    } catch (e) {
      checks.delete(session);
      throw toBridgeError(e, 'local store');
    }
  }

  async copyFromFile(session: UploadSession, src: string): Promise<void> {
    checks.delete(session);
    try {
      await copyFile(src, (session as LocalSession).partial);
      checks.set(session, 'copied');
    } catch (e) {
      throw toBridgeError(e, 'local store');
    }
  }

  sourcePath(oid: string): string {
    return this.path(oid);
  }

  async copyToFile(oid: string, dest: string): Promise<void> {
    try {
      await copyFile(this.path(oid), dest);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        await this.checkRootSoon();
        throw notFound(`${oid} is not in the local store ${this.root}`);
      }
      throw toBridgeError(e, 'local store');
    }
  }

  async queryUpload(session: UploadSession): Promise<number> {
    return sizeOf((session as LocalSession).partial);
  }

  async finishUpload(session: UploadSession): Promise<RemoteObject> {
    const s = session as LocalSession;
    const fh = await open(s.partial, 'r+');
    let got: number;
    try {
      await fh.sync(); // chunks flush as they close; a kernel copy (copyFromFile) does not
      got = (await fh.stat()).size;
    } finally {
      await fh.close();
    }
    if (got === s.size && checks.get(s) !== 'copied') {
      // Never the oid's name for bytes that are not the object: a partial continued from an earlier run is checked.
      const digest = (await checkedTo(s, got)).sha.digest('hex');
      checks.delete(s);
      if (digest !== s.oid) {
        await rm(s.partial, { force: true });
        throw new BridgeError(
          'Corrupt',
          false,
          `the local store's partial of ${s.oid} hashes to ${digest} (damaged while the upload was interrupted): deleted it`,
        );
      }
    }
    return this.commit(s.partial, s.oid, s.size, got);
  }

  async abortUpload(session: UploadSession): Promise<void> {
    checks.delete(session);
    await rm((session as LocalSession).partial, { force: true });
  }

  /** A synced file of `got` bytes renamed into place: a reader never sees a partial object under its final name. */
  private async commit(tmp: string, oid: string, size: number, got: number): Promise<RemoteObject> {
    if (got !== size)
      throw new BridgeError('Corrupt', false, `local partial of ${oid} has ${got} bytes, expected ${size}`);
    const final = this.path(oid);
    await this.ensureDir(join(final, '..'));
    await rename(tmp, final)
      .catch(async (e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
        this.dirs.clear(); // a folder we made was removed meanwhile
        await mkdir(join(final, '..'), { recursive: true });
        await rename(tmp, final);
      })
      .catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'EISDIR' || e.code === 'ENOTEMPTY' || e.code === 'ENOTDIR' || e.code === 'EEXIST') {
          throw new BridgeError('Conflict', false, `${final} exists in the local store and is not a file: remove it`);
        }
        throw e;
      });
    return { size: got };
  }

  async readTarget(oid: string): Promise<ReadTarget> {
    const path = this.path(oid);
    await stat(path).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') {
        await this.checkRootSoon();
        throw notFound(`${oid} is not in the local store ${this.root}`);
      }
      throw toBridgeError(e, 'local store');
    });
    return { kind: 'file', path };
  }
}

/** Creates and removes a file where an upload writes its partial: the one check that answers "can a push write". */
async function checkWritable(root: string): Promise<void> {
  const dir = join(root, INCOMING);
  const probe = join(dir, `.probe.${hostname()}.${process.pid}.${randomBytes(4).toString('hex')}`);
  let step = dir;
  try {
    await mkdir(dir, { recursive: true });
    step = probe;
    const fh = await open(probe, 'wx');
    try {
      await fh.write('lfs-bridge write check');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rm(probe);
  } catch (e) {
    await rm(probe, { force: true }).catch(() => {});
    const code = (e as NodeJS.ErrnoException).code ?? '';
    throw new BridgeError(
      code === 'ENOSPC' || code === 'EDQUOT' ? 'Quota' : 'Forbidden',
      false,
      `the local store ${root} cannot be written: cannot create ${step}: ${fsReason(code) ?? (e as Error).message}`,
      { cause: e },
    );
  }
}

const local: ProviderModule = {
  caps,
  async checkInit(ctx) {
    await checkRoot(rootOf(ctx));
  },
  async checkStore(ctx) {
    const root = rootOf(ctx);
    await checkRoot(root);
    await checkWritable(root);
  },
  async create(ctx) {
    const root = rootOf(ctx);
    await checkRoot(root);
    return new LocalProvider(root);
  },
  /** A relative folder is resolved against the work tree's top; a missing one is created if its parent exists. */
  async resolveRoot(given, o) {
    const root = isAbsolute(given) || !o.top ? resolve(given) : resolve(o.top, given);
    const notes: string[] = [];
    try {
      if (!(await stat(root)).isDirectory()) throw configError(`${root} exists and is not a folder`);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      if (!existsSync(dirname(root))) {
        throw configError(`neither ${root} nor its parent exists: is the disk or share mounted?`);
      }
      await mkdir(root);
      notes.push(`created the store folder ${root}`);
    }
    if (o.top && (root.startsWith(`${o.top}/`) || root === o.top)) {
      notes.push('the store is inside the work tree: add it to .gitignore, or git will see the objects');
    }
    return { root, notes };
  },
  /** Uploads that stopped part-way: their partials in the store's incoming folder. */
  async pending(ctx) {
    const dir = join(rootOf(ctx), INCOMING);
    const out: PendingUpload[] = [];
    for (const name of await readdir(dir).catch(() => [] as string[])) {
      const m = /^([0-9a-f]{64})\..*\.part$/.exec(name);
      if (!m) continue;
      const st = await stat(join(dir, name)).catch(() => null);
      if (st) out.push({ oid: m[1], bytesDone: st.size, mtimeMs: st.mtimeMs, where: dir });
    }
    return out;
  },
};
export default local;
