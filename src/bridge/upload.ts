/**
 * One object from <lfs>/objects to the provider: stat first (nothing is sent for an
 * object already there), a one-shot put for small objects, otherwise a chunked session that resumes from the
 * server's committed offset. Every byte is hashed once as it is sent; the source is verified before its last
 * byte leaves; the server's size and hash are checked after the commit.
 * See docs/architecture.md "One upload".
 */
import { type BigIntStats, readFileSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { formatBytes } from '../config/size.js';
import { BridgeError, badRequest, corrupt } from '../errors.js';
import { serverHasher } from '../hash/index.js';
import { ObjectHash, type StreamHash } from '../hash/object-hash.js';
import { hashPrefix, TINY } from '../io/file-range.js';
import { waitLock } from '../lib/lock.js';
import type { ChunkResult, Provider, RemoteObject, UploadSession } from '../providers/types.js';
import type { TransferContext } from './context.js';
import type { ProgressMeter } from './progress.js';
import type { TransferRequest } from './protocol.js';
import { type ResumeStore, resumeKey } from './resume.js';
import { withRetry } from './retry.js';
import { type SourceStamp, sourceChanged, sourceChangedError, stampOf } from './source-stamp.js';
import {
  checkCommitted,
  commitOrAdopt,
  commitSession,
  complete,
  goneIfNotFound,
  objectHash,
  recordNewSession,
  SessionGone,
  sameObject,
  sourceBody,
  usableRecord,
  withSessionRestart,
} from './upload-commit.js';
import { uploadInPieces, usePieces } from './upload-pieces.js';

/** How long an upload waits for another local process uploading the same oid. */
const LOCK_WAIT_MS = 15 * 60_000;

export async function upload(ctx: TransferContext, req: TransferRequest, meter: ProgressMeter): Promise<void> {
  const stamp = await checkSource(req);
  const src = stamp.path;
  const p = ctx.provider;
  if (p.caps.maxObjectSize !== undefined && req.size > p.caps.maxObjectSize) {
    // Refused before any request: the provider would take it all and fail at the end (Dropbox: too_large).
    throw badRequest(
      `${req.oid} has ${formatBytes(req.size)} (${req.size} bytes): ${p.name} stores files of at most ${formatBytes(p.caps.maxObjectSize)} (${p.caps.maxObjectSize} bytes); it cannot be stored there`,
    );
  }
  // Sessions are resumable state shared by oid, so one uploader per oid on this machine; a one-shot put needs no lock.
  const small = req.size <= p.caps.simpleUploadMax;
  const lock = small
    ? null
    : await waitLock(join(ctx.lockDir, `upload-${p.name}-${p.destination}-${req.oid}.lock`), LOCK_WAIT_MS, 50, {
        log: (m) => ctx.log.debug(m),
      });
  if (!small && !lock)
    throw new BridgeError('Transient', false, `another lfs-bridge process is still uploading ${req.oid}`);
  try {
    const remote = await withRetry(() => p.stat(req.oid), ctx.retry);
    if (remote && sameObject(p, remote, req)) {
      ctx.log.debug(`${req.oid} is already on ${p.name}: nothing to send`);
      return meter.finish();
    }
    if (remote) ctx.log.info(`${req.oid} on ${p.name} has ${remote.size} bytes, expected ${req.size}: uploading it`);
    try {
      if (small) await putSmall(ctx, req, src, meter);
      else await sessionUpload(ctx, req, src, meter, stamp);
    } catch (e) {
      // Bytes that do not hash to the oid from a file written meanwhile: say so, not "corrupt".
      if (e instanceof BridgeError && e.kind === 'Corrupt' && (await sourceChanged(stamp)))
        throw sourceChangedError(stamp, req.oid);
      throw e;
    }
    meter.finish();
  } finally {
    await lock?.release();
  }
}

/** The source as git-lfs names it, stamped before its first byte is read (source-stamp.ts). */
async function checkSource(req: TransferRequest): Promise<SourceStamp> {
  const src = req.path as string;
  let st: BigIntStats;
  try {
    st = await stat(src, { bigint: true });
  } catch (e) {
    throw badRequest(`cannot read ${src} for ${req.oid}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  if (!st.isFile()) throw badRequest(`${src} is not a file`);
  if (st.size !== BigInt(req.size))
    throw badRequest(`${src} has ${st.size} bytes, but git-lfs says ${req.oid} has ${req.size}`);
  return stampOf(src, st);
}

/** A source stream of [from, from+length) through the tap: hashing, progress, rate limit, verification. */
function body(ctx: TransferContext, src: string, hash: StreamHash, from: number, length: number, meter: ProgressMeter) {
  return sourceBody(src, from, length, {
    hash,
    start: from,
    onPosition: (pos) => meter.update(pos),
    rate: ctx.rate,
    verifyBeforeEnd: src,
  });
}

async function putSmall(ctx: TransferContext, req: TransferRequest, src: string, meter: ProgressMeter) {
  const p = ctx.provider;
  if (req.size <= TINY && !ctx.rate) {
    const data = readFileSync(src); // one small read: cheaper than a thread-pool round trip per step
    const hash = new ObjectHash(req.oid, req.size, serverHasher(p.caps.serverHash));
    hash.feed(data, 0);
    hash.verify(src);
    const res = await commitOrAdopt(ctx, req, () => p.putSmall(req.oid, req.size, data));
    meter.update(req.size);
    return checkCommitted(p, res, hash);
  }
  let hash: StreamHash | undefined;
  try {
    const res = await commitOrAdopt(ctx, req, async () => {
      await hash?.close?.(); // each attempt sends, and hashes, from byte 0
      hash = await objectHash(p, req);
      return p.putSmall(req.oid, req.size, body(ctx, src, hash, 0, req.size, meter));
    });
    hash ??= await objectHash(p, req);
    await complete(src, hash);
    await checkCommitted(p, res, hash);
  } finally {
    await hash?.close?.();
  }
}

/** Picks the chunk size: configured or default, within the provider's limits, a multiple of its alignment. */
export function chunkSizeFor(p: Provider, configured?: number): number {
  const { chunkAlign, chunkMax, chunkDefault } = p.caps;
  const want = Math.min(configured ?? chunkDefault, chunkMax);
  return Math.max(chunkAlign, Math.floor(want / chunkAlign) * chunkAlign);
}

async function sessionUpload(
  ctx: TransferContext,
  req: TransferRequest,
  src: string,
  meter: ProgressMeter,
  stamp: SourceStamp,
) {
  const p = ctx.provider;
  const chunk = chunkSizeFor(p, ctx.config.chunkSize);
  const useRecords = p.caps.sessionsSurviveRestart && !p.caps.sessionFromOid;
  const store = useRecords ? await ctx.resume() : null;
  const key = resumeKey({ provider: p.name, account: p.account, destination: p.destination, oid: req.oid });
  // In parallel pieces where the provider takes them — unless a session in order is already under way.
  const rec = store ? await store.get(key) : null;
  if (rec?.pieces || (!rec && usePieces(ctx, req.size, chunk)))
    return uploadInPieces(ctx, req, src, meter, store, key, chunk, stamp);

  await withSessionRestart(ctx, req, store, key, async (fresh) => {
    const { session, offset } = await openSession(ctx, req, store, key, chunk, fresh);
    const hash = await objectHash(p, req);
    try {
      let committed: RemoteObject | undefined; // the last chunk created the object (no finish then)
      if (offset === 0 && p.copyFromFile && !ctx.rate) {
        // A store on this machine: the kernel copies while the source is hashed beside it; commit only on a match.
        const copy = p.copyFromFile(session, src);
        const hashing = hashPrefix(src, hash, req.size, (pos) => meter.update(pos));
        const [c, h] = await Promise.allSettled([copy, hashing]);
        if (c.status === 'rejected') throw c.reason;
        if (h.status === 'rejected') throw h.reason;
      } else {
        await hashPrefix(src, hash, offset);
        meter.update(offset); // a resumed prefix is reported in one event, and releases git-lfs's other workers
        committed = await sendChunks(ctx, req, src, session, hash, offset, chunk, meter, store, key);
      }
      await complete(src, hash);
      await commitSession(ctx, req, session, hash, store, key, stamp, committed).catch((e) => {
        // The source is the object (just verified), so bytes kept from an earlier run were not: start over, once.
        if (offset > 0 && e instanceof BridgeError && e.kind === 'Corrupt')
          throw new SessionGone(`${e.message}; sending ${req.oid} again from byte 0`);
        throw e;
      });
    } catch (e) {
      if (e instanceof BridgeError && e.kind === 'Corrupt') await p.abortUpload(session).catch(() => {});
      throw e;
    } finally {
      await hash.close?.();
    }
  });
}

async function openSession(
  ctx: TransferContext,
  req: TransferRequest,
  store: ResumeStore | null,
  key: string,
  chunk: number,
  fresh: boolean,
): Promise<{ session: UploadSession; offset: number }> {
  const p = ctx.provider;
  const query = (s: UploadSession) => withRetry(() => p.queryUpload(s), ctx.retry);
  if (p.caps.sessionFromOid) {
    const session = await withRetry(() => p.startUpload(req.oid, req.size), ctx.retry);
    const offset = fresh ? 0 : await query(session);
    if (offset > 0 && offset <= req.size)
      ctx.log.info(`resuming ${req.oid} upload at byte ${offset}: server offset of the session ${p.name} keeps for it`);
    if (offset <= req.size) return { session, offset };
    ctx.log.info(`${p.name} reports ${offset} bytes of ${req.oid}, more than its ${req.size}: starting over`);
    await p.abortUpload(session);
    return { session: await withRetry(() => p.startUpload(req.oid, req.size), ctx.retry), offset: 0 };
  }
  const rec = store && !fresh ? await store.get(key) : null;
  if (rec) {
    if (usableRecord(ctx, req, rec)) {
      try {
        const offset = await query(rec.session);
        if (offset <= req.size) {
          ctx.log.info(
            `resuming ${req.oid} upload at byte ${offset}: server offset of the session in its keychain record`,
          );
          return { session: rec.session, offset };
        }
      } catch (e) {
        if (!(e instanceof BridgeError && e.kind === 'NotFound')) throw e;
      }
    }
    ctx.log.debug(`${req.oid}: its recorded upload session is gone or not usable: starting a new one`);
    await store?.delete(key);
  }
  const session = await withRetry(() => p.startUpload(req.oid, req.size), ctx.retry);
  await recordNewSession(ctx, req, store, session, chunk);
  return { session, offset: 0 };
}

async function sendChunks(
  ctx: TransferContext,
  req: TransferRequest,
  src: string,
  session: UploadSession,
  hash: StreamHash,
  start: number,
  chunk: number,
  meter: ProgressMeter,
  store: ResumeStore | null,
  key: string,
): Promise<RemoteObject | undefined> {
  const p = ctx.provider;
  let offset = start;
  while (offset < req.size) {
    const chunkEnd = Math.min(req.size, offset + chunk);
    const res = await withRetry(async (attempt): Promise<ChunkResult> => {
      let from = offset;
      if (attempt > 1) {
        // The server is the truth after a failure: it may have kept all, some or none of the chunk.
        from = await p.queryUpload(session).catch((e) => {
          throw goneIfNotFound(e);
        });
        if (from > req.size || from < 0)
          throw corrupt(`${p.name} reports offset ${from} for a ${req.size}-byte upload`);
        if (from >= chunkEnd) return { offset: from };
      }
      if (from > hash.pos) await hashPrefix(src, hash, from);
      const length = Math.min(chunk, req.size - from);
      const body1 = body(ctx, src, hash, from, length, meter);
      return p.uploadChunk(session, from, length, body1, from + length === req.size);
    }, ctx.retry).catch((e) => {
      throw goneIfNotFound(e);
    });
    if (res.committed) return res.committed;
    offset = res.offset;
    if (store) {
      const rec = await store.get(key);
      if (rec) await store.put({ ...rec, offset }).catch(() => {}); // a hint for `status` only
    }
  }
  return undefined;
}
