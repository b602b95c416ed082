/**
 * What both ways of sending an upload share (upload.ts in order, upload-pieces.ts in parallel pieces): the
 * object's hash and its completion, the source body through the tap, the session restart rule and resume record,
 * the commit with retries, and the check of what the provider stored.
 */
import { pipeline, type Transform } from 'node:stream';
import { BridgeError, corrupt } from '../errors.js';
import { hashesEqual, serverHasher } from '../hash/index.js';
import { ObjectHash, type StreamHash } from '../hash/object-hash.js';
import { THREAD_MIN } from '../io/disk-thread.js';
import { hashPrefix, readRange } from '../io/file-range.js';
import { providerEntry } from '../providers/index.js';
import type { Provider, RemoteObject, UploadSession } from '../providers/types.js';
import type { TransferContext } from './context.js';
import type { TransferRequest } from './protocol.js';
import type { ResumeRecord, ResumeStore } from './resume.js';
import { withRetry } from './retry.js';
import { checkUnchanged, type SourceStamp } from './source-stamp.js';
import { type TapOptions, tap } from './tap.js';
import { ThreadedObjectHash } from './upload-hash.js';

/**
 * The session is gone on the server (expired, or finished by an answer we lost), or what it kept from an earlier run
 * proved not to be the object (the message says so): start a new one.
 */
export class SessionGone extends Error {}

/** A NotFound from a session call means the session is gone. */
export const goneIfNotFound = (e: unknown) =>
  e instanceof BridgeError && e.kind === 'NotFound' ? new SessionGone() : e;

/**
 * The object's hash for an upload: large objects sent over the network are hashed on the disk thread
 * (upload-hash.ts) from copies of the pieces sent; small ones, and a local store's kernel copy (which leaves this
 * thread free to hash), here.
 */
export async function objectHash(p: Provider, req: TransferRequest): Promise<StreamHash> {
  if (req.size >= THREAD_MIN && providerEntry(p.name).network)
    return ThreadedObjectHash.open(req.oid, req.size, p.caps.serverHash);
  return new ObjectHash(req.oid, req.size, serverHasher(p.caps.serverHash));
}

export async function checkCommitted(p: Provider, res: RemoteObject, hash: StreamHash): Promise<void> {
  if (res.size !== hash.size) throw corrupt(`${p.name} stored ${res.size} bytes of ${hash.oid}, expected ${hash.size}`);
  if (!res.hash) return;
  await hash.settle?.();
  const want = p.caps.serverHash === 'sha256' ? hash.oid : hash.serverHash();
  if (want && !hashesEqual(p.caps.serverHash, res.hash, want)) {
    // Not the object: left there, `stat` would pass it for the object on every later push. The next push
    // (git-lfs retries) uploads it again.
    const removed = p.remove
      ? await p.remove(hash.oid).then(
          () => 'deleted it',
          (e) => `could not delete it: ${e}`,
        )
      : 'left it';
    throw corrupt(
      `${p.name} reports hash ${res.hash} for ${hash.oid}, but the bytes sent hash to ${want} (${removed})`,
    );
  }
}

/**
 * Runs a commit with retries. A Conflict (another writer stored the oid first) or a NotFound (our commit went
 * through and its answer was lost, so the session is gone) is settled by the stored object itself.
 */
export async function commitOrAdopt(ctx: TransferContext, req: TransferRequest, op: () => Promise<RemoteObject>) {
  const p = ctx.provider;
  try {
    return await withRetry(op, ctx.retry);
  } catch (e) {
    if (!(e instanceof BridgeError) || (e.kind !== 'Conflict' && e.kind !== 'NotFound')) throw e;
    const remote = await withRetry(() => p.stat(req.oid), ctx.retry);
    if (remote && remote.size === req.size) return remote;
    throw e;
  }
}

/** Content-addressed: the right size under the oid's name is the object, and a SHA-256 the provider gives must match. */
export function sameObject(p: Provider, remote: RemoteObject, req: TransferRequest): boolean {
  if (remote.size !== req.size) return false;
  return !(p.caps.serverHash === 'sha256' && remote.hash && !hashesEqual('sha256', remote.hash, req.oid));
}

/**
 * Runs a session upload; `attempt(fresh)` opens (or continues) a session and sends. A session gone on the server
 * is first asked about: the object may be stored already (the chunk or commit that created it lost its answer),
 * and is then not sent again; otherwise the upload gets one fresh start. An object found Corrupt loses its resume
 * record (the next push starts clean).
 */
export async function withSessionRestart(
  ctx: TransferContext,
  req: TransferRequest,
  store: ResumeStore | null,
  key: string,
  attempt: (fresh: boolean) => Promise<void>,
): Promise<void> {
  for (let restart = 0; ; restart++) {
    try {
      return await attempt(restart > 0);
    } catch (e) {
      if (e instanceof SessionGone && restart === 0) {
        await store?.delete(key);
        const remote = await withRetry(() => ctx.provider.stat(req.oid), ctx.retry);
        if (remote && sameObject(ctx.provider, remote, req)) {
          ctx.log.info(`upload session for ${req.oid} is gone and the object is stored: nothing to send again`);
          return;
        }
        ctx.log.info(e.message || `upload session for ${req.oid} is gone: starting a new one`);
        continue;
      }
      if (e instanceof BridgeError && e.kind === 'Corrupt') await store?.delete(key);
      throw e;
    }
  }
}

/** A recorded session worth continuing: same size, and not about to expire (a minute's margin). */
export function usableRecord(ctx: TransferContext, req: TransferRequest, rec: ResumeRecord): boolean {
  const lifetime = ctx.provider.caps.sessionLifetimeMs;
  return rec.size === req.size && !(lifetime !== undefined && ctx.now() - rec.createdAt > lifetime - 60_000);
}

/** The resume record of a session just started: kept before its first byte, so a crash after it is resumable. */
export async function recordNewSession(
  ctx: TransferContext,
  req: TransferRequest,
  store: ResumeStore | null,
  session: UploadSession,
  chunkSize: number,
  extra: Partial<ResumeRecord> = {},
): Promise<ResumeRecord> {
  const p = ctx.provider;
  const record: ResumeRecord = {
    provider: p.name,
    account: p.account,
    destination: p.destination,
    oid: req.oid,
    size: req.size,
    chunkSize,
    session,
    createdAt: ctx.now(),
    offset: 0,
    ...extra,
  };
  await store?.put(record);
  return record;
}

/**
 * Finishes the hash from the local file (an object adopted rather than sent to the end; an upload in pieces, whose
 * hash reads the source beside the sending), settles it and checks it is the oid.
 */
export async function complete(src: string, hash: StreamHash): Promise<void> {
  if (!hash.complete) await hashPrefix(src, hash, hash.size);
  await hash.settle?.();
  hash.verify(src);
}

/** [from, from+length) of the source through a tap (hash, progress, rate limit, verification as `o` asks). */
export function sourceBody(
  src: string,
  from: number,
  length: number,
  o: TapOptions & { readBytes?: number },
): Transform {
  const t = tap(o);
  pipeline(readRange(src, from, from + length, o.readBytes), t, () => {}); // errors reach the provider through `t`
  return t;
}

/**
 * Commits a session whose bytes are all sent (unless its last chunk did: `committed`), checks what the provider
 * stored, and drops the resume record. The
 * source must be as stamped before its first read: the hash may have read other bytes than those sent.
 */
export async function commitSession(
  ctx: TransferContext,
  req: TransferRequest,
  session: UploadSession,
  hash: StreamHash,
  store: ResumeStore | null,
  key: string,
  source: SourceStamp,
  committed?: RemoteObject,
): Promise<void> {
  await checkUnchanged(source, req.oid);
  const res = committed ?? (await commitOrAdopt(ctx, req, () => ctx.provider.finishUpload(session)));
  await checkCommitted(ctx.provider, res, hash);
  await store?.delete(key);
}
