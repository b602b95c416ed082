import type { RemoteObject, UploadSession } from '../providers/types.js';
import type { TransferContext } from './context.js';
import type { ProgressMeter } from './progress.js';
import type { TransferRequest } from './protocol.js';
import { RAMP_READ_BYTES, Ramp } from './ramp.js';
import type { ResumeRecord, ResumeStore } from './resume.js';
import { withRetry } from './retry.js';
import type { SourceStamp } from './source-stamp.js';
import {
  commitSession,
  complete,
  goneIfNotFound,
  objectHash,
  recordNewSession,
  SessionGone,
  sourceBody,
  usableRecord,
  withSessionRestart,
} from './upload-commit.js';

export interface Piece {
  start: number;
  end: number;
}

/**
 * The object cut into pieces of `piece` bytes (a multiple of `align`); the last piece, which closes the session,
 * is the object's last block (1 to `align` bytes), so what waits for the hash at the end is small.
 */
export function cutPieces(size: number, piece: number, align: number): Piece[] {
  const tail = size - Math.floor((size - 1) / align) * align;
  const bodyEnd = size - tail;
  const out: Piece[] = [];
  for (let s = 0; s < bodyEnd; s += piece) out.push({ start: s, end: Math.min(bodyEnd, s + piece) });
  out.push({ start: bodyEnd, end: size });
  return out;
}

/** The chunk size, or less for an object that would give each of `streams` streams fewer than four pieces. */
export function pieceSizeFor(size: number, chunk: number, align: number, streams: number): number {
  const share = Math.floor(size / (4 * streams) / align) * align;
  return Math.min(chunk, Math.max(2 * align, share));
}

/** Pieces pay only where the provider takes them, more than one stream is allowed, and there are two besides the last. */
export function usePieces(ctx: TransferContext, size: number, chunk: number): boolean {
  const { caps } = ctx.provider;
  if (!caps.concurrentSessions || ctx.config.uploadStreams < 2) return false;
  return (
    cutPieces(size, pieceSizeFor(size, chunk, caps.chunkAlign, ctx.config.uploadStreams), caps.chunkAlign).length >= 3
  );
}

export async function uploadInPieces(
  ctx: TransferContext,
  req: TransferRequest,
  src: string,
  meter: ProgressMeter,
  store: ResumeStore | null,
  key: string,
  chunk: number,
  stamp: SourceStamp,
): Promise<void> {
  const p = ctx.provider;
  await withSessionRestart(ctx, req, store, key, async (fresh) => {
    const { session, record } = await openSession(ctx, req, store, key, chunk, fresh);
    const all = cutPieces(req.size, record.chunkSize, p.caps.chunkAlign);
    const done = new Set(record.pieces);
    const hash = await objectHash(p, req);
    const ac = new AbortController();
    try {
      // The source in order on the disk thread, while the pieces leave; a bad source stops them.
      const verified = complete(src, hash);
      verified.catch(() => ac.abort());
      let saving = Promise.resolve(); // records saved in order: a later one never loses to an earlier one
      const send = sender(ctx, req, src, session, meter, ac.signal, (x) => {
        done.add(x.start);
        const pieces = [...done];
        const offset = all.filter((y) => done.has(y.start)).reduce((n, y) => n + y.end - y.start, 0);
        // A record that could not be saved costs only a re-send of those pieces after a crash.
        saving = saving.then(() => store?.put({ ...record, pieces, offset }).catch(() => {}));
        return saving;
      });
      send.already(all.filter((x) => done.has(x.start)));
      const tail = all[all.length - 1];
      await send
        .all(
          all.filter((x) => x !== tail && !done.has(x.start)),
          ctx.config.uploadStreams,
        )
        .catch(async (e) => {
          await verified.catch((bad) => {
            throw bad; // a bad source is the reason the pieces stopped
          });
          throw e;
        });
      await verified; // before the last piece leaves: nothing unverified is ever committed
      let committed: RemoteObject | undefined; // the closing piece created the object (no finish then)
      if (!done.has(tail.start)) {
        committed = await send.one(tail, true).catch((e) => {
          // A closing piece whose answer was lost arrives again at a closed session: the commit will tell.
          if (!(e instanceof SessionGone)) throw e;
          return undefined;
        });
      }
      await commitSession(ctx, req, session, hash, store, key, stamp, committed);
    } finally {
      ac.abort();
      await hash.close?.();
    }
  });
}

/** The recorded concurrent session of this object, or a new one (recorded before its first piece). */
async function openSession(
  ctx: TransferContext,
  req: TransferRequest,
  store: ResumeStore | null,
  key: string,
  chunk: number,
  fresh: boolean,
): Promise<{ session: UploadSession; record: ResumeRecord & { pieces: number[] } }> {
  const p = ctx.provider;
  const rec = store && !fresh ? await store.get(key) : null;
  if (rec?.pieces && usableRecord(ctx, req, rec)) {
    ctx.log.info(
      `resuming ${req.oid} upload at piece ${rec.pieces.length}: the keychain record of its session lists ${rec.pieces.length} piece(s) sent`,
    );
    return { session: rec.session, record: { ...rec, pieces: rec.pieces } };
  }
  if (rec) {
    ctx.log.debug(`${req.oid}: its recorded upload session is not usable (size or age): starting a new one`);
    await store?.delete(key);
  }
  const piece = pieceSizeFor(req.size, chunk, p.caps.chunkAlign, ctx.config.uploadStreams);
  const session = await withRetry(() => p.startUpload(req.oid, req.size, undefined, { concurrent: true }), ctx.retry);
  const record = await recordNewSession(ctx, req, store, session, piece, { pieces: [] });
  return { session, record: { ...record, pieces: [] } };
}

/** Sends pieces, one stream or several, with progress as the sum of what every piece has sent. */
function sender(
  ctx: TransferContext,
  req: TransferRequest,
  src: string,
  session: UploadSession,
  meter: ProgressMeter,
  signal: AbortSignal,
  acked: (x: Piece) => Promise<void>,
) {
  const p = ctx.provider;
  let ackedBytes = 0;
  const moving = new Map<number, number>(); // piece start → bytes of it sent so far (this attempt)
  const total = () => {
    let n = ackedBytes;
    for (const v of moving.values()) n += v;
    return n;
  };
  let sentEver = 0; // for the ramp: grows with every byte sent, re-sends included
  let ramp: Ramp | undefined;
  let measuring = true; // until the ramp has decided (or the parallel part is over)
  const one = async (x: Piece, last: boolean): Promise<RemoteObject | undefined> => {
    const res = await withRetry(
      async () => {
        moving.set(x.start, 0);
        const body = sourceBody(src, x.start, x.end - x.start, {
          // While the ramp measures, the bytes sent are counted in small reads: in 1 MiB steps a capped connection
          // (a few MiB/s) looks like 0 or 1 MiB per window, and the ramp would judge noise.
          readBytes: measuring && ramp?.deciding !== false ? RAMP_READ_BYTES : undefined,
          start: x.start,
          rate: ctx.rate,
          onPosition: (pos) => {
            sentEver += pos - x.start - (moving.get(x.start) ?? 0);
            moving.set(x.start, pos - x.start);
            meter.update(total());
          },
        });
        return p.uploadChunk(session, x.start, x.end - x.start, body, last, signal);
      },
      { ...ctx.retry, signal },
    ).catch((e) => {
      throw goneIfNotFound(e);
    });
    moving.delete(x.start);
    ackedBytes += x.end - x.start;
    meter.update(total());
    await acked(x);
    return res.committed;
  };
  return {
    one,
    /** Pieces the server has from an earlier process: counted as sent. */
    already(xs: Piece[]) {
      for (const x of xs) ackedBytes += x.end - x.start;
      meter.update(total());
    },
    /** Sends `xs` (in order of claim) with up to `max` streams, as the ramp allows. */
    async all(xs: Piece[], max: number): Promise<void> {
      let next = 0;
      let running = 0;
      let failure: unknown;
      const worker = async (): Promise<void> => {
        running++;
        try {
          while (!failure && !signal.aborted && running <= (ramp?.target ?? 1) && next < xs.length) {
            await one(xs[next++], false);
          }
        } catch (e) {
          failure ??= e;
        } finally {
          running--;
        }
      };
      const workers = [worker()];
      ramp = new Ramp({
        max,
        judge: 'optimistic', // what the socket took is not what the server received (ramp.ts)
        bytes: () => sentEver,
        ceiling: ctx.config.maxRate,
        canAdd: () => next < xs.length,
        add: () => workers.push(worker()),
        onWindow: (moved, n) => ctx.log.debug(`${req.oid}: upload ramp window: ${moved} bytes at ${n} stream(s)`),
        onChange: (n, rate) =>
          ctx.log.debug(`${req.oid}: ${n} upload streams (${Math.round(rate / 1000)} kB/s before)`),
      });
      try {
        for (;;) {
          for (let i = 0; i < workers.length; i++) await workers[i];
          if (failure || signal.aborted || next >= xs.length) break;
          workers.push(worker()); // streams that stepped back together can leave pieces unclaimed
        }
      } finally {
        ramp.stop();
        measuring = false;
      }
      if (failure) throw failure;
      if (signal.aborted) throw signal.reason;
    },
  };
}
