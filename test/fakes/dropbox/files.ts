/** The Dropbox API v2 routes of the fake: users/*, auth/token/revoke, files/* (RPC, upload and download styles). */
import { createHash, type Hash } from 'node:crypto';
import { renameSync, rmSync } from 'node:fs';
import { open, truncate, writeFile } from 'node:fs/promises';
import { DROPBOX_HASH_BLOCK, DropboxContentHasher } from '../../../src/hash/dropbox-content-hash.js';
import type { Ctx, Session, State } from './context.js';
import { parseRange, receiveBody, sendFileRange } from './io.js';
import {
  type Blob,
  type CommitOptions,
  type FileEntry,
  fileMetadata,
  folderMetadata,
  type Resolved,
  rootInfo,
} from './store.js';
import {
  type Args,
  asciiJson,
  badInput,
  DAY,
  HOUR,
  type Json,
  REQUEST_MAX,
  Reply,
  randomToken,
  routeError,
} from './util.js';

/** A handler's outcome: a JSON result for the server to send, or 'sent' when it answered (or dropped) itself. */
export type Outcome = { json: unknown } | 'sent';
export type Handler = (s: State, c: Ctx, a: Args) => Promise<Outcome>;
export type Style = 'rpc' | 'upload' | 'download';

/** Upload sessions live 7 days (files.stone, upload_session/start). */
const SESSION_TTL = 7 * DAY;
/** Temporary links live 4 hours, then 410 Gone (files.stone, get_temporary_link). */
const LINK_TTL = 4 * HOUR;

const count = (s: State, c: Ctx) => (n: number) => s.counters.received(c.routeKey, n, c.countPath, c.countSession);
const resetOf = (c: Ctx) => (c.fault?.kind === 'reset' ? c.fault.afterBytes : undefined);
const corruptOf = (c: Ctx) => (c.fault?.kind === 'corrupt' ? c.fault.byteIndex : undefined);
const pathError = (tag: string) => routeError({ '.tag': 'path', path: { '.tag': tag } });

// ---------------------------------------------------------------------------------------------- users, auth

const getCurrentAccount: Handler = async (_s, c) => {
  const a = c.account!;
  return {
    json: {
      account_id: a.accountId,
      name: {
        given_name: a.name,
        surname: 'Tester',
        familiar_name: a.name,
        display_name: `${a.name} Tester`,
        abbreviated_name: (a.name[0] ?? 'X').toUpperCase() + 'T',
      },
      email: a.email,
      email_verified: true,
      disabled: false,
      country: 'US',
      locale: 'en',
      referral_link: `https://db.tt/${a.uid}`,
      is_paired: false,
      account_type: { '.tag': 'basic' },
      root_info: rootInfo(a),
    },
  };
};

const getSpaceUsage: Handler = async (s, c) => ({
  json: { used: s.store.used(c.account!), allocation: { '.tag': 'individual', allocated: s.store.allocated } },
});

const revoke: Handler = async (s, c) => {
  s.oauth.revoke(c.token!);
  return { json: null };
};

// ---------------------------------------------------------------------------------------------- metadata, download

const getMetadata: Handler = async (s, c, a) => {
  if (a.str('path') === '') throw badInput(c.fn, `${a.where}: path: The root folder is unsupported.`);
  const mount = s.store.mountAt(c.account!, a.str('path'), c.root);
  // (a member's own folder in the team space is its home, not a shared folder)
  if (mount && mount.ns !== c.account!.homeNs) {
    const ns = s.store.namespaces.get(mount.ns)!;
    const meta = folderMetadata(ns, '', mount.display) as Record<string, unknown>;
    return {
      json: {
        ...meta,
        path_lower: mount.key,
        shared_folder_id: mount.ns,
        sharing_info: { read_only: false, shared_folder_id: mount.ns, traverse_only: false, no_access: false },
      },
    };
  }
  const r = s.store.resolve(c.account!, c.root!, a.path('path', 'read'));
  if ('error' in r) throw pathError(r.error);
  const e = r.ns.files.get(r.key);
  if (e) return { json: fileMetadata(e, true) };
  const folder = s.store.folderAt(r.ns, r.key);
  if (folder !== undefined) return { json: folderMetadata(r.ns, r.key, folder) };
  throw pathError('not_found');
};

/** files/delete_v2 for files (this fake stores no folders of its own): 409 path_lookup/not_found when absent. */
const deleteV2: Handler = async (s, c, a) => {
  const r = s.store.resolve(c.account!, c.root!, a.path('path', 'write'));
  if ('error' in r) throw routeError({ '.tag': 'path_lookup', path_lookup: { '.tag': r.error } });
  const e = r.ns.files.get(r.key);
  if (!e) throw routeError({ '.tag': 'path_lookup', path_lookup: { '.tag': 'not_found' } });
  const metadata = fileMetadata(e, false);
  s.store.remove(r.ns, r.key);
  return { json: { metadata: { '.tag': 'file', ...metadata } } };
};

/** The file at the `path` argument, or 409 path/not_found | path/not_file | path/malformed_path. */
function lookupFile(s: State, c: Ctx, a: Args): FileEntry {
  const r = s.store.resolve(c.account!, c.root!, a.path('path', 'read'));
  if ('error' in r) throw pathError(r.error);
  const e = r.ns.files.get(r.key);
  if (e) return e;
  throw pathError(s.store.folderAt(r.ns, r.key) !== undefined ? 'not_file' : 'not_found');
}

const download: Handler = async (s, c, a) => {
  const e = lookupFile(s, c, a);
  await serveEntry(s, c, e, true);
  return 'sent';
};

const getTemporaryLink: Handler = async (s, c, a) => {
  const e = lookupFile(s, c, a);
  const token = randomToken(32);
  s.links.set(token, { entry: e, expiresAt: s.clock() + LINK_TTL, expired: false });
  return { json: { metadata: fileMetadata(e, false), link: `${s.linkBase}/link/${token}` } };
};

/**
 * Sends a stored file: 200, or 206 + Content-Range for `Range: bytes=…`, 416 when the start is past the end.
 * `apiResult` adds the Dropbox-API-Result header (downloads, not temporary links).
 */
export async function serveEntry(s: State, c: Ctx, e: FileEntry, apiResult: boolean): Promise<void> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(e.blob, 'r');
  } catch {
    throw pathError('not_found'); // overwritten or removed since the lookup
  }
  try {
    const range = c.fault?.kind === 'ignore-range' ? undefined : parseRange(c.req.headers.range, e.size);
    const headers: Record<string, string | number> = { 'Content-Type': 'application/octet-stream' };
    if (apiResult) headers['Dropbox-API-Result'] = asciiJson(fileMetadata(e, false));
    if (c.fault?.kind === 'commit-then-drop') {
      c.req.socket.destroy();
      return;
    }
    if (range === 'unsatisfiable') {
      c.res.writeHead(416, { 'Content-Range': `bytes */${e.size}`, 'Content-Length': 0 }).end();
      return;
    }
    const start = range ? range.start : 0;
    const end = range ? range.end + 1 : e.size;
    if (range) headers['Content-Range'] = `bytes ${start}-${end - 1}/${e.size}`;
    headers['Content-Length'] = end - start;
    headers['Accept-Ranges'] = 'bytes';
    c.res.writeHead(range ? 206 : 200, headers);
    if (c.req.method === 'HEAD') {
      c.res.end();
      return;
    }
    await sendFileRange(c.res, fh, start, end, {
      bytesPerSec: s.throttle,
      corruptAt: c.fault?.kind === 'corrupt' ? c.fault.byteIndex : undefined,
      resetAfter: resetOf(c),
      count: (n) => s.counters.sent(c.routeKey, n, e.key),
    });
  } finally {
    await fh.close();
  }
}

// ---------------------------------------------------------------------------------------------- uploads

interface Commit {
  path: string;
  opts: CommitOptions;
}

/** CommitInfo (files.stone): path, mode (add | overwrite | {update: rev}), autorename, client_modified, … */
function parseCommit(a: Args): Commit {
  const path = a.path('path', 'write');
  const mode = a.union('mode', ['add', 'overwrite', 'update'], 'add');
  let rev: string | undefined;
  if (mode.tag === 'update') {
    if (typeof mode.value !== 'string' || !/^[0-9a-f]{9,}$/.test(mode.value)) {
      throw badInput(a.route, `${a.where}: mode: update: expected a rev (≥ 9 hex digits)`);
    }
    rev = mode.value;
  }
  const clientModified = a.str('client_modified', true);
  if (clientModified !== undefined && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(clientModified)) {
    throw badInput(a.route, `${a.where}: client_modified: '${clientModified}' is not a valid timestamp`);
  }
  a.bool('mute', false);
  return {
    path,
    opts: {
      mode: mode.tag as CommitOptions['mode'],
      rev,
      autorename: a.bool('autorename', false),
      strictConflict: a.bool('strict_conflict', false),
      clientModified,
    },
  };
}

/** Resolves a commit path; an inaccessible namespace or unknown id becomes a WriteError. */
function resolveWrite(s: State, c: Ctx, path: string): Resolved {
  return s.store.resolve(c.account!, c.root!, path);
}

/** Writes a blob at a resolved commit path; an unresolvable path is a WriteError too. */
function commitBlob(s: State, c: Ctx, target: Resolved, blob: Blob, commit: Commit) {
  if ('error' in target) {
    return {
      error: target.error === 'malformed_path' ? { '.tag': 'malformed_path' } : { '.tag': 'no_write_permission' },
    };
  }
  return s.store.commit(c.account!, target.ns, target.key, target.display, blob, commit.opts);
}

function makeSession(s: State, c: Ctx, id: string, file: string, concurrent: boolean): Session {
  return {
    id,
    account: c.account!.name,
    concurrent,
    createdAt: s.clock(),
    expired: false,
    closed: false,
    file,
    size: 0,
    hasher: concurrent ? undefined : new DropboxContentHasher(),
    busy: false,
    blocks: new Map(),
    receiving: new Set(),
  };
}

const newSessionId = () => 'pid_upload_session:' + randomToken(36);

/** files/upload: one request ≤ 150 MiB; on a write error the data stays in a (closed) session, as Dropbox says. */
const upload: Handler = async (s, c, a) => {
  const commit = parseCommit(a);
  const want = a.hash('content_hash');
  const target = resolveWrite(s, c, commit.path);
  c.countPath = 'error' in target ? commit.path.toLowerCase() : target.key;
  const tmp = s.store.newFile('tmp');
  const hasher = new DropboxContentHasher();
  const fh = await open(tmp, 'w');
  let got: Awaited<ReturnType<typeof receiveBody>>;
  try {
    got = await receiveBody(c.req, {
      fh,
      limit: REQUEST_MAX,
      bytesPerSec: s.uploadThrottle,
      onData: (b) => hasher.update(b),
      count: count(s, c),
      resetAfter: resetOf(c),
      corruptAt: corruptOf(c),
    });
  } finally {
    await fh.close();
  }
  const discard = () => rmSync(tmp, { force: true });
  if (!got.complete) {
    discard();
    return 'sent';
  }
  if (got.overLimit) {
    discard();
    throw routeError({ '.tag': 'payload_too_large' });
  }
  const kept = hasher.copy();
  const hash = hasher.digest();
  if (want !== undefined && want !== hash) {
    discard();
    throw routeError({ '.tag': 'content_hash_mismatch' });
  }
  const res = commitBlob(s, c, target, { file: tmp, size: got.bytes, hash }, commit);
  if ('error' in res) {
    const ses = makeSession(s, c, newSessionId(), s.store.newFile('sessions'), false);
    renameSync(tmp, ses.file);
    Object.assign(ses, { size: got.bytes, hasher: kept, closed: true });
    s.sessions.set(ses.id, ses);
    throw routeError({ '.tag': 'path', reason: res.error, upload_session_id: ses.id });
  }
  if (!res.adopted) discard();
  return { json: fileMetadata(res.entry, false) };
};

/** upload_session/start {close, session_type, content_hash}: may carry data unless concurrent. */
const sessionStart: Handler = async (s, c, a) => {
  const close = a.bool('close', false);
  const concurrent = a.union('session_type', ['sequential', 'concurrent'], 'sequential').tag === 'concurrent';
  const want = a.hash('content_hash');
  const id = newSessionId();
  c.countSession = id;
  if (concurrent && close) throw routeError({ '.tag': 'concurrent_session_close_not_allowed' });
  const ses = makeSession(s, c, id, s.store.newFile('sessions'), concurrent);
  if (concurrent) s.counters.concurrentSessions++;
  await writeFile(ses.file, '');
  let outcome: Outcome = { json: { session_id: id } };
  try {
    if (concurrent) {
      const got = await receiveBody(c.req, { limit: 0, count: count(s, c), resetAfter: resetOf(c) });
      if (!got.complete) outcome = 'sent';
      else if (got.bytes > 0) throw routeError({ '.tag': 'concurrent_session_data_not_allowed' });
    } else if ((await appendSequential(s, c, ses, want, (e) => e)) === 'sent') outcome = 'sent';
  } catch (e) {
    rmSync(ses.file, { force: true });
    throw e;
  }
  if (outcome === 'sent') {
    rmSync(ses.file, { force: true });
    return outcome;
  }
  ses.closed = close;
  s.sessions.set(id, ses); // registered only once the call succeeded
  return outcome;
};

/** A live session of this account, or undefined (unknown, other account, or older than 7 days). */
function findSession(s: State, c: Ctx, id: string): Session | undefined {
  const ses = s.sessions.get(id);
  if (!ses || ses.account !== c.account!.name) return undefined;
  if (ses.expired || s.clock() - ses.createdAt >= SESSION_TTL) {
    if (!ses.busy) {
      s.sessions.delete(id);
      rmSync(ses.file, { force: true });
    }
    return undefined;
  }
  return ses;
}

/**
 * Streams this call's body to the end of a sequential session. The session advances only if the whole body arrived
 * and passed the checks: a reset, an oversized body or a content_hash mismatch leave the offset where it was.
 * `lookup` wraps UploadSessionLookupError members (nested under lookup_failed by finish).
 */
function appendSequential(...args: Parameters<typeof appendOne>): Promise<number | 'sent'> {
  // One append at a time per session, as the server would: a call that arrives while a reset one is still being
  // wound up waits for it instead of being refused.
  const run = appendOne(...args);
  args[2].idle = run.catch(() => {});
  return run;
}

async function appendOne(
  s: State,
  c: Ctx,
  ses: Session,
  want: string | undefined,
  lookup: (e: Json) => Json,
): Promise<number | 'sent'> {
  ses.busy = true;
  const fork = ses.hasher!.copy();
  const callHash = want !== undefined ? new DropboxContentHasher() : undefined;
  const fh = await open(ses.file, 'r+');
  let got: Awaited<ReturnType<typeof receiveBody>>;
  try {
    got = await receiveBody(c.req, {
      fh,
      position: ses.size,
      limit: REQUEST_MAX,
      bytesPerSec: s.uploadThrottle,
      onData: (b) => {
        fork.update(b);
        callHash?.update(b);
      },
      count: count(s, c),
      resetAfter: resetOf(c),
      corruptAt: corruptOf(c),
    });
  } finally {
    await fh.close();
    ses.busy = false;
  }
  let error: Json | undefined;
  if (!got.complete) error = {};
  else if (got.overLimit) error = { '.tag': 'payload_too_large' };
  else if (ses.size + got.bytes > s.sessionMax) error = lookup({ '.tag': 'too_large' });
  else if (callHash && callHash.digest() !== want) error = { '.tag': 'content_hash_mismatch' };
  if (error) {
    await truncate(ses.file, ses.size);
    if (!got.complete) return 'sent';
    throw routeError(error);
  }
  ses.size += got.bytes;
  ses.hasher = fork;
  return got.bytes;
}

/** SHA-256 of each 4 MiB block of one concurrent piece (pieces start on block boundaries). */
class BlockDigests {
  readonly digests: Buffer[] = [];
  private h: Hash = createHash('sha256');
  private n = 0;
  update(b: Buffer): void {
    for (let off = 0; off < b.length; ) {
      const k = Math.min(DROPBOX_HASH_BLOCK - this.n, b.length - off);
      this.h.update(b.subarray(off, off + k));
      this.n += k;
      off += k;
      if (this.n === DROPBOX_HASH_BLOCK) {
        this.digests.push(this.h.digest());
        this.h = createHash('sha256');
        this.n = 0;
      }
    }
  }
  finish(): Buffer[] {
    if (this.n > 0) this.digests.push(this.h.digest());
    return this.digests;
  }
}

/**
 * Blocks of a concurrent session that data from `offset` may not go over: received, or being received. Dropbox
 * does not document what a piece sent again does (its answer lost, say); this fake refuses it as Dropbox refuses
 * data over data it holds in a sequential session, with incorrect_offset, whose correct_offset is the first block
 * boundary from `offset` on that holds nothing (a piece arriving over one still being received waits for it first).
 */
async function overlap(ses: Session, offset: number, length: number): Promise<number | undefined> {
  const first = offset / DROPBOX_HASH_BLOCK;
  const last = first + Math.ceil(length / DROPBOX_HASH_BLOCK); // exclusive
  const busy = () => [...ses.receiving].filter((r) => r.first < last && first < r.last).map((r) => r.done);
  for (let w = busy(); w.length; w = busy()) await Promise.all(w);
  let i = first;
  while (i < last && !ses.blocks.has(i)) i++;
  if (i === last) return undefined;
  let free = first;
  while (ses.blocks.has(free)) free++;
  return free * DROPBOX_HASH_BLOCK;
}

/** A concurrent piece: offset and length multiples of 4 MiB except the closing piece's length; any order. */
async function appendConcurrent(
  s: State,
  c: Ctx,
  ses: Session,
  offset: number,
  close: boolean,
  want: string | undefined,
): Promise<Outcome> {
  if (offset % DROPBOX_HASH_BLOCK !== 0) throw routeError({ '.tag': 'concurrent_session_invalid_offset' });
  const declared = Number(c.req.headers['content-length']);
  // Without a Content-Length the piece's extent is known only at its end: it goes to a file of its own first.
  const known = Number.isSafeInteger(declared) && declared >= 0;
  if (known) {
    const held = await overlap(ses, offset, declared);
    if (held !== undefined) {
      await receiveBody(c.req, { limit: 0, count: count(s, c) });
      throw routeError({ '.tag': 'incorrect_offset', correct_offset: held });
    }
  }
  let settle = () => {};
  const mark = {
    first: offset / DROPBOX_HASH_BLOCK,
    last: offset / DROPBOX_HASH_BLOCK + Math.ceil((known ? declared : 0) / DROPBOX_HASH_BLOCK),
    done: new Promise<void>((r) => {
      settle = r;
    }),
  };
  ses.receiving.add(mark);
  try {
    return await receivePiece(s, c, ses, offset, close, want, known);
  } finally {
    ses.receiving.delete(mark);
    settle();
  }
}

async function receivePiece(
  s: State,
  c: Ctx,
  ses: Session,
  offset: number,
  close: boolean,
  want: string | undefined,
  known: boolean,
): Promise<Outcome> {
  const blocks = new BlockDigests();
  const callHash = want !== undefined ? new DropboxContentHasher() : undefined;
  const target = known ? ses.file : s.store.newFile('tmp');
  const fh = await open(target, known ? 'r+' : 'w');
  let got: Awaited<ReturnType<typeof receiveBody>>;
  try {
    got = await receiveBody(c.req, {
      fh,
      position: known ? offset : 0,
      limit: REQUEST_MAX,
      bytesPerSec: s.uploadThrottle,
      onData: (b) => {
        blocks.update(b);
        callHash?.update(b);
      },
      count: count(s, c),
      resetAfter: resetOf(c),
      corruptAt: corruptOf(c),
    });
  } finally {
    await fh.close();
  }
  try {
    if (!got.complete) return 'sent';
    if (got.overLimit) throw routeError({ '.tag': 'payload_too_large' });
    if (!close && got.bytes % DROPBOX_HASH_BLOCK !== 0) {
      throw routeError({ '.tag': 'concurrent_session_invalid_data_size' });
    }
    if (offset + got.bytes > s.sessionMax) throw routeError({ '.tag': 'too_large' });
    if (callHash && callHash.digest() !== want) throw routeError({ '.tag': 'content_hash_mismatch' });
    if (ses.closed) throw routeError({ '.tag': 'closed' }); // closed while this piece streamed
    if (!known) {
      const held = await overlap(ses, offset, got.bytes);
      if (held !== undefined) throw routeError({ '.tag': 'incorrect_offset', correct_offset: held });
      await copyInto(target, ses.file, offset, got.bytes);
    }
  } finally {
    if (!known) rmSync(target, { force: true });
  }
  blocks.finish().forEach((d, i) => {
    ses.blocks.set(offset / DROPBOX_HASH_BLOCK + i, d);
  });
  if (close) {
    ses.closed = true;
    ses.end = offset + got.bytes;
  }
  return { json: null };
}

/** Copies `length` bytes of `from` (from its start) into `to` at `at`. */
async function copyInto(from: string, to: string, at: number, length: number): Promise<void> {
  const src = await open(from, 'r');
  const dst = await open(to, 'r+');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    for (let done = 0; done < length; ) {
      const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, length - done), done);
      if (bytesRead === 0) break;
      await dst.write(buf, 0, bytesRead, at + done);
      done += bytesRead;
    }
  } finally {
    await Promise.all([src.close(), dst.close()]);
  }
}

/** upload_session/append_v2 {cursor:{session_id, offset}, close, content_hash} → null. */
const sessionAppend: Handler = async (s, c, a) => {
  const cursor = a.obj('cursor');
  const id = cursor.str('session_id');
  const offset = cursor.uint('offset');
  const close = a.bool('close', false);
  const want = a.hash('content_hash');
  c.countSession = id;
  const ses = findSession(s, c, id);
  if (!ses) throw routeError({ '.tag': 'not_found' });
  if (ses.closed) throw routeError({ '.tag': 'closed' });
  if (ses.concurrent) {
    const ended = s.counters.appendStarted();
    try {
      return await appendConcurrent(s, c, ses, offset, close, want);
    } finally {
      ended();
    }
  }
  await ses.idle;
  if (offset !== ses.size || ses.busy) throw routeError({ '.tag': 'incorrect_offset', correct_offset: ses.size });
  const r = await appendSequential(s, c, ses, want, (e) => e);
  if (r === 'sent') return 'sent';
  if (close) ses.closed = true;
  return { json: null };
};

const lookupFailed = (e: Json) => ({ '.tag': 'lookup_failed', lookup_failed: e });

/** Checks a concurrent session is complete; returns its content hash or an UploadSessionFinishError. */
function concurrentHash(ses: Session): { hash: string } | { error: Json } {
  if (!ses.closed || ses.end === undefined) return { error: { '.tag': 'concurrent_session_not_closed' } };
  const n = Math.ceil(ses.end / DROPBOX_HASH_BLOCK);
  const h = createHash('sha256');
  for (let i = 0; i < n; i++) {
    const d = ses.blocks.get(i);
    if (!d) return { error: { '.tag': 'concurrent_session_missing_data' } };
    h.update(d);
  }
  return { hash: h.digest('hex') };
}

/** Commits a session's data; on success the session is gone. Returns metadata or an UploadSessionFinishError. */
async function finalize(
  s: State,
  c: Ctx,
  ses: Session,
  commit: Commit,
): Promise<{ entry: FileEntry } | { error: Json }> {
  let blob: Blob;
  if (ses.concurrent) {
    const h = concurrentHash(ses);
    if ('error' in h) return h;
    await truncate(ses.file, ses.end);
    blob = { file: ses.file, size: ses.end!, hash: h.hash };
  } else {
    blob = { file: ses.file, size: ses.size, hash: ses.hasher!.copy().digest() };
  }
  const target = resolveWrite(s, c, commit.path);
  const res = commitBlob(s, c, target, blob, commit);
  if ('error' in res) return { error: { '.tag': 'path', path: res.error } };
  if (!res.adopted) rmSync(ses.file, { force: true });
  s.sessions.delete(ses.id);
  s.counters.sessionCommitted(ses.id, res.entry.key);
  return { entry: res.entry };
}

/** upload_session/finish {cursor, commit, content_hash} → FileMetadata; may carry final data (not concurrent). */
const sessionFinish: Handler = async (s, c, a) => {
  const cursor = a.obj('cursor');
  const id = cursor.str('session_id');
  const offset = cursor.uint('offset');
  const commit = parseCommit(a.obj('commit'));
  const want = a.hash('content_hash');
  c.countSession = id;
  const ses = findSession(s, c, id);
  if (!ses) throw routeError(lookupFailed({ '.tag': 'not_found' }));
  if (ses.concurrent) {
    const got = await receiveBody(c.req, { limit: 0, count: count(s, c), resetAfter: resetOf(c) });
    if (!got.complete) return 'sent';
    if (got.bytes > 0) throw routeError({ '.tag': 'concurrent_session_data_not_allowed' });
    if (!ses.closed || ses.end === undefined) throw routeError({ '.tag': 'concurrent_session_not_closed' });
    if (offset !== ses.end) throw routeError(lookupFailed({ '.tag': 'incorrect_offset', correct_offset: ses.end }));
  } else {
    await ses.idle;
    if (offset !== ses.size || ses.busy) {
      throw routeError(lookupFailed({ '.tag': 'incorrect_offset', correct_offset: ses.size }));
    }
    if (ses.closed) {
      const got = await receiveBody(c.req, { limit: 0, count: count(s, c), resetAfter: resetOf(c) });
      if (!got.complete) return 'sent';
      if (got.bytes > 0) throw routeError(lookupFailed({ '.tag': 'closed' }));
    } else if ((await appendSequential(s, c, ses, want, lookupFailed)) === 'sent') {
      return 'sent';
    }
  }
  const r = await finalize(s, c, ses, commit);
  if ('error' in r) throw routeError(r.error);
  return { json: fileMetadata(r.entry, false) };
};

/** upload_session/finish_batch_v2 {entries:[{cursor, commit}]} → {entries:[success | failure]}; sessions closed. */
const finishBatch: Handler = async (s, c, a) => {
  const entries = a.list('entries');
  if (entries.length > 1000) throw badInput(c.fn, `${a.where}: entries: list has more than 1000 items`);
  const jobs = entries.map((e) => {
    const cursor = e.obj('cursor');
    return { id: cursor.str('session_id'), offset: cursor.uint('offset'), commit: parseCommit(e.obj('commit')) };
  });
  const out: Json[] = [];
  for (const j of jobs) {
    const ses = findSession(s, c, j.id);
    let r: { entry: FileEntry } | { error: Json };
    if (!ses) r = { error: lookupFailed({ '.tag': 'not_found' }) };
    else if (!ses.closed) r = { error: lookupFailed({ '.tag': 'not_closed' }) };
    else if (j.offset !== (ses.concurrent ? ses.end : ses.size)) {
      r = { error: lookupFailed({ '.tag': 'incorrect_offset', correct_offset: ses.concurrent ? ses.end : ses.size }) };
    } else r = await finalize(s, c, ses, j.commit);
    out.push(
      'error' in r ? { '.tag': 'failure', failure: r.error } : { '.tag': 'success', ...fileMetadata(r.entry, false) },
    );
  }
  return { json: { entries: out } };
};

export interface RouteSpec {
  style: Style;
  run: Handler;
  /** The route takes no argument (Void): body null or absent. */
  void?: boolean;
}

/** Function name (URL path after /2/) → spec. */
export const ROUTES: Record<string, RouteSpec> = {
  'auth/token/revoke': { style: 'rpc', run: revoke, void: true },
  'users/get_current_account': { style: 'rpc', run: getCurrentAccount, void: true },
  'users/get_space_usage': { style: 'rpc', run: getSpaceUsage, void: true },
  'files/get_metadata': { style: 'rpc', run: getMetadata },
  'files/delete_v2': { style: 'rpc', run: deleteV2 },
  'files/get_temporary_link': { style: 'rpc', run: getTemporaryLink },
  'files/upload_session/finish_batch_v2': { style: 'rpc', run: finishBatch },
  'files/upload': { style: 'upload', run: upload },
  'files/upload_session/start': { style: 'upload', run: sessionStart },
  'files/upload_session/append_v2': { style: 'upload', run: sessionAppend },
  'files/upload_session/finish': { style: 'upload', run: sessionFinish },
  'files/download': { style: 'download', run: download },
};

/** GET /link/<token>: no bearer; 410 once 4 h of the test clock passed; 404 if the file changed since. */
export async function serveLink(s: State, c: Ctx, token: string): Promise<void> {
  const l = s.links.get(token);
  if (!l) throw new Reply(404, 'Not Found', 'text/plain; charset=utf-8');
  if (l.expired || s.clock() >= l.expiresAt) throw new Reply(410, 'Gone', 'text/plain; charset=utf-8');
  const ns = s.store.namespaces.get(l.entry.ns);
  if (ns?.files.get(l.entry.key) !== l.entry) throw new Reply(404, 'Not Found', 'text/plain; charset=utf-8');
  try {
    await serveEntry(s, c, l.entry, false);
  } catch (e) {
    if (e instanceof Reply && e.status === 409) throw new Reply(404, 'Not Found', 'text/plain; charset=utf-8');
    throw e;
  }
}
