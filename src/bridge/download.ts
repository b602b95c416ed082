/**
 * One object from the provider to git-lfs: continue the partial
 * in <lfs>/incomplete/lfs-bridge, hash in order as bytes land, verify SHA-256 == oid, and only then hand a
 * complete file over in <lfs>/tmp. A mismatch deletes the partial, retries once from zero, then fails with 422.
 * See docs/architecture.md "One download", docs/protocol.md "Where files go".
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BridgeError, notFound } from '../errors.js';
import { sizeOf } from '../fsutil.js';
import { ObjectHash } from '../hash/object-hash.js';
import { hashPrefix, TINY } from '../io/file-range.js';
import { deadHolder, type Lock, waitLock } from '../lib/lock.js';
import type { TransferContext } from './context.js';
import type { LfsPaths } from './lfsdir.js';
import type { ProgressMeter } from './progress.js';
import type { TransferRequest } from './protocol.js';
import { fetchSegments, isSegmented } from './segments.js';

export interface Downloaded {
  /** The verified file for `complete.path`. */
  path: string;
  /** Unlock after `complete` has been sent. */
  release(): Promise<void>;
}

/** Folders this process already made: a pull of many small objects would otherwise mkdir twice per object. */
const made = new Set<string>();
async function ensureDir(dir: string): Promise<void> {
  if (made.has(dir)) return;
  await mkdir(dir, { recursive: true });
  made.add(dir);
}

/**
 * How long a download waits for another live process fetching the same object: at most `maxMs`, and only while
 * that one makes progress (a holder whose partial has not changed for `idleMs` is not waited for any more).
 */
export const lockWait = { maxMs: 15 * 60_000, idleMs: 30_000 };

export async function download(ctx: TransferContext, req: TransferRequest, meter: ProgressMeter): Promise<Downloaded> {
  const paths = await ctx.lfsPaths();
  try {
    return await downloadTo(ctx, req, meter, paths);
  } catch (e) {
    throw storageError(e, paths, req);
  }
}

/**
 * The LFS storage refusing a write (full, read-only, not ours), named with what to do: a bare ENOSPC or EACCES
 * says neither which storage nor that a partial is kept.
 */
function storageError(e: unknown, paths: LfsPaths, req: TransferRequest): unknown {
  const err = e as NodeJS.ErrnoException;
  const where = `${paths.lfsDir} (the LFS storage, lfs.storage)`;
  if (err?.code === 'ENOSPC' || err?.code === 'EDQUOT') {
    const part = join(paths.incomplete, `${req.oid}.part`);
    const what = err.code === 'ENOSPC' ? 'no space left on the disk holding' : 'the disk quota is used up on';
    const after = existsSync(part)
      ? `the partial ${part} is kept, and the next pull goes on from it once there is room`
      : 'pull again once there is room';
    return new BridgeError(
      'Quota',
      false,
      `${what} ${where} while downloading ${req.oid} (${req.size} bytes): ${after}`,
      {
        cause: e,
      },
    );
  }
  if (err?.code === 'EACCES' || err?.code === 'EPERM' || err?.code === 'EROFS') {
    const why =
      err.code === 'EROFS' ? 'it is on a read-only file system' : `this user may not write there (${err.code})`;
    return new BridgeError(
      'Forbidden',
      false,
      `cannot write in ${where}: ${why}${err.path ? `, at ${err.path}` : ''}; pull as the user who owns it, or give this user write access`,
      { cause: e },
    );
  }
  return e;
}

async function downloadTo(
  ctx: TransferContext,
  req: TransferRequest,
  meter: ProgressMeter,
  paths: LfsPaths,
): Promise<Downloaded> {
  await ensureDir(paths.tmp);
  const p = ctx.provider;
  if (req.size <= TINY && p.sourcePath && !ctx.rate) return copyTiny(ctx, req, paths.tmp, meter);
  await ensureDir(paths.incomplete);
  const slot = join(paths.incomplete, req.oid);
  // One process per object owns the resumable slot. A dead holder (gone, zombie, pid reused) is taken over at once;
  // a live one (another git lfs command in this repository) is waited for while its partial grows.
  const lock: Lock | null = await waitLock(`${slot}.lock`, lockWait.maxMs, 50, {
    log: (m) => ctx.log.debug(m),
    progress: async () => {
      const [a, b] = await Promise.all([
        stat(`${slot}.part`).catch(() => null),
        stat(`${slot}.state`).catch(() => null),
      ]);
      return `${a?.size}/${a?.mtimeMs}/${b?.mtimeMs}`;
    },
    idleMs: lockWait.idleMs,
  });
  // Still held: a private download straight to a hand-over name in <lfs>/tmp (git-lfs sweeps what a crash leaves
  // there), so nothing of it is ever left in incomplete/.
  const part = lock ? `${slot}.part` : join(paths.tmp, `lfs-bridge-${req.oid}-${process.pid}-${unique()}`);
  if (!lock) ctx.log.debug(`${req.oid}: another process holds ${slot}.lock; downloading privately, without resume`);
  // The sidecar tells `lfs-bridge status` how big the object will be, and holds segment progress.
  const state = lock ? `${slot}.state` : `${part}.state`;
  if (!(await isSegmented(state))) await writeFile(state, JSON.stringify({ size: req.size }));
  try {
    for (let round = 1; ; round++) {
      try {
        await fetchInto(ctx, req, part, state, meter);
        break;
      } catch (e) {
        if (!(e instanceof BridgeError && e.kind === 'Corrupt') || round > 1) throw e;
        ctx.log.info(`${e.message}; deleting the partial and downloading ${req.oid} again from byte 0`);
        await rm(part, { force: true });
        await rm(state, { force: true });
      }
    }
    let handover = part;
    if (lock) {
      handover = join(paths.tmp, `lfs-bridge-${req.oid}-${process.pid}-${unique()}`);
      await rename(part, handover); // same filesystem; frees the resume slot
    }
    await rm(state, { force: true });
    if (lock) await sweepLeftovers(paths.incomplete, req.oid);
    const now = new Date();
    await utimes(handover, now, now); // a resumed partial can be older than git-lfs's one-hour tmp sweep
    return { path: handover, release: async () => lock?.release() };
  } catch (e) {
    // Keep a partial worth resuming; anything else (no bytes yet, a private name, bad bytes) goes, sidecar too.
    if (!lock || (e instanceof BridgeError && e.kind === 'Corrupt') || (await sizeOf(part)) === 0) {
      await rm(part, { force: true });
      await rm(state, { force: true });
    }
    await lock?.release();
    throw e;
  }
}

/**
 * What dead processes left of this object in incomplete/ beside the slot itself: a sidecar or lock written under a
 * temporary name when they were killed, a private partial of an older version. Only names carrying a dead pid go.
 */
async function sweepLeftovers(dir: string, oid: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const left = new RegExp(
    `^${oid}\\.(?:state\\.(\\d+)\\.tmp|lock\\.(\\d+)\\.[0-9a-f]+\\.tmp|(\\d+)-[0-9a-f]+\\.(?:part|state))$`,
  );
  for (const name of names) {
    const m = left.exec(name);
    const pid = Number(m?.[1] ?? m?.[2] ?? m?.[3]);
    if (m && deadHolder({ pid })) await rm(join(dir, name), { force: true });
  }
}

const unique = () => randomBytes(4).toString('hex');

/**
 * A small object from a store on this machine: read, verified and written in one piece with synchronous calls,
 * straight to its hand-over name (nothing worth resuming, so no partial, lock or sidecar).
 */
async function copyTiny(ctx: TransferContext, req: TransferRequest, tmp: string, meter: ProgressMeter) {
  const p = ctx.provider;
  let data: Buffer;
  try {
    data = readFileSync(p.sourcePath!(req.oid));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    if (!(await p.stat(req.oid))) throw notFound(`${req.oid} is not in the ${p.name} store (lfs-bridge.root)`);
    throw e;
  }
  const hash = new ObjectHash(req.oid, req.size);
  if (data.length !== req.size)
    throw new BridgeError('Corrupt', false, `${p.name} holds ${data.length} bytes of ${req.oid}, expected ${req.size}`);
  hash.feed(data, 0);
  hash.verify(`download of ${req.oid} from ${p.name}`);
  const handover = join(tmp, `lfs-bridge-${req.oid}-${process.pid}-${unique()}`);
  const fd = openSync(handover, 'wx', 0o644);
  let written = false;
  try {
    writeSync(fd, data);
    fsyncSync(fd);
    written = true;
  } finally {
    closeSync(fd);
    if (!written) rmSync(handover, { force: true });
  }
  meter.update(req.size);
  return { path: handover, release: async () => {} };
}

/** Brings `part` to the whole verified, durable object, continuing from what it already holds. */
async function fetchInto(
  ctx: TransferContext,
  req: TransferRequest,
  part: string,
  state: string,
  meter: ProgressMeter,
) {
  const p = ctx.provider;
  if (p.copyToFile && p.sourcePath && !ctx.rate && (await sizeOf(part)) === 0) {
    // A store on this machine: the kernel copies while the stored bytes are hashed beside it.
    const hash = new ObjectHash(req.oid, req.size);
    const copy = p.copyToFile(req.oid, part);
    const hashing = hashPrefix(p.sourcePath(req.oid), hash, req.size, (pos) => meter.update(pos));
    const [c, h] = await Promise.allSettled([copy, hashing]);
    if (c.status === 'rejected') throw c.reason;
    if (h.status === 'rejected') throw h.reason;
    if ((await sizeOf(part)) !== req.size)
      throw new BridgeError('Corrupt', false, `${p.name} copy of ${req.oid} has the wrong size`);
    return finishPart(part, hash, `download of ${req.oid} from ${p.name}`);
  }
  // Ranged reads, one stream or several (a partial from an earlier run is continued either way).
  await fetchSegments({
    ctx,
    oid: req.oid,
    size: req.size,
    part,
    statePath: state,
    meter,
    maxStreams: p.caps.parallelRanges ? ctx.config.downloadStreams : 1,
  });
}

/** Verified, then durable, before git-lfs renames it into objects/. */
async function finishPart(part: string, hash: ObjectHash, what: string): Promise<void> {
  hash.verify(what);
  const fh = await open(part, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
