/**
 * Parallel ranged download of one object (PROTOCOL.md §6, the resumable-clone proposal's adaptive scheme):
 * start with one stream; every interval, add a stream on the next segment while total throughput still grew by
 * ≥ 10 %, up to lfs-bridge.downloadstreams. Segments land at their offsets in the .part; a sidecar records each
 * segment's bytes written (updated after the data, so it may lag the file but never lead it). SHA-256 runs in
 * object order over the contiguous done prefix, read back from the page cache as it grows.
 */
import { open, readFile, writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BridgeError, transient } from '../errors.js';
import type { TransferContext } from './context.js';
import type { ProgressMeter } from './progress.js';
import { withRetry } from './retry.js';
import { hashPrefix } from './source.js';
import { ObjectHash } from './tap.js';

export const SEGMENT = 8 * 1024 * 1024;
export const ADD_STREAM_EVERY_MS = 2000;
const GROWTH = 1.1;

interface Segment {
  start: number;
  end: number;
  /** Bytes of this segment on disk (from `start`). */
  done: number;
  busy?: boolean;
}

interface State {
  size: number;
  segment: number;
  segments: Segment[];
}

export function plan(size: number, segment = SEGMENT): Segment[] {
  const out: Segment[] = [];
  for (let s = 0; s < size; s += segment) out.push({ start: s, end: Math.min(size, s + segment), done: 0 });
  return out;
}

/** True when the sidecar describes a segmented partial (holes possible: only the segment code may continue it). */
export async function isSegmented(statePath: string): Promise<boolean> {
  try {
    return Array.isArray(JSON.parse(await readFile(statePath, 'utf8')).segments);
  } catch {
    return false;
  }
}

async function loadState(statePath: string, size: number, partLength: number): Promise<Segment[] | null> {
  try {
    const st = JSON.parse(await readFile(statePath, 'utf8')) as State;
    if (st.size !== size || !Array.isArray(st.segments)) return null;
    // The sidecar may lag the file, never lead it: a segment claiming bytes past the file's end is not trusted.
    for (const s of st.segments) {
      if (s.start + s.done > partLength || s.done < 0 || s.start + s.done > s.end) return null;
      s.busy = false;
    }
    return st.segments;
  } catch {
    return null;
  }
}

export interface SegmentOptions {
  ctx: TransferContext;
  oid: string;
  size: number;
  part: string;
  statePath: string;
  meter: ProgressMeter;
  maxStreams: number;
  segment?: number;
  intervalMs?: number;
}

/** Fills `part` with the whole object in parallel ranges and returns its verified hash. */
export async function fetchSegments(o: SegmentOptions): Promise<ObjectHash> {
  const { ctx, oid, size, part } = o;
  const p = ctx.provider;
  const fh = await open(part, 'a+').then(async (h) => {
    await h.close();
    return open(part, 'r+');
  });
  try {
    const length = (await fh.stat()).size;
    let segs = await loadState(o.statePath, size, length);
    if (!segs) {
      // A plain sequential partial (or none): its prefix becomes done bytes of the leading segments.
      segs = plan(size, o.segment);
      let left = Math.min(length, size);
      for (const s of segs) {
        s.done = Math.min(left, s.end - s.start);
        left -= s.done;
      }
    }
    if (length > size) await fh.truncate(size);
    const total = () => segs.reduce((n, s) => n + s.done, 0);
    const saveState = async () => {
      const st: State = {
        size,
        segment: o.segment ?? SEGMENT,
        segments: segs.map(({ start, end, done }) => ({ start, end, done })),
      };
      await writeFile(o.statePath, JSON.stringify(st)).catch(() => {});
    };
    o.meter.update(total());

    const hash = new ObjectHash(oid, size);
    let hashing = Promise.resolve();
    const contiguous = () => {
      let end = 0;
      for (const s of segs) {
        end = s.start + s.done;
        if (s.done < s.end - s.start) break;
      }
      return end;
    };
    const advanceHash = () => {
      hashing = hashing.then(async () => {
        const upTo = contiguous();
        if (upTo > hash.pos) await hashPrefix(part, hash, upTo);
      });
      return hashing;
    };

    const next = () => segs.find((s) => !s.busy && s.done < s.end - s.start);
    let failure: unknown;
    const ac = new AbortController();
    const worker = async (): Promise<void> => {
      for (let seg = next(); seg && !failure; seg = next()) {
        seg.busy = true;
        const s = seg;
        try {
          await withRetry(async () => {
            const from = s.start + s.done;
            if (from >= s.end) return;
            const r = await p.openRead(oid, size, from, s.end, ac.signal);
            if (r.start > from)
              throw new BridgeError('Unexpected', false, `${p.name} answered from byte ${r.start}, asked ${from}`);
            let skip = from - r.start; // 200 instead of 206: skip to where this segment stands
            let at = from;
            const limit = ctx.rate;
            const sink = new Writable({
              highWaterMark: 1 << 20,
              write(chunk: Buffer, _e, cb) {
                let buf = chunk;
                if (skip > 0) {
                  const n = Math.min(skip, buf.length);
                  skip -= n;
                  buf = buf.subarray(n);
                }
                if (at + buf.length > s.end) buf = buf.subarray(0, Math.max(0, s.end - at)); // range ignored: stop at the segment end
                if (buf.length === 0) return at >= s.end ? cb(new SegmentFull()) : cb();
                const go = () =>
                  fh.write(buf, 0, buf.length, at).then(() => {
                    at += buf.length;
                    s.done = at - s.start;
                    o.meter.update(total());
                    if (at >= s.end) return cb(new SegmentFull());
                    cb();
                  }, cb);
                const wait = limit?.take(buf.length) ?? 0;
                if (wait) setTimeout(go, wait);
                else void go();
              },
            });
            try {
              await pipeline(r.body, sink);
            } catch (e) {
              if (!(e instanceof SegmentFull)) throw e;
              r.body.destroy();
            }
            if (s.start + s.done < s.end)
              throw transient(`${p.name} ended a range of ${oid} early at byte ${s.start + s.done}`);
          }, ctx.retry);
          await saveState();
          void advanceHash();
        } catch (e) {
          failure ??= e;
          ac.abort();
        } finally {
          s.busy = false;
        }
      }
    };

    const workers: Promise<void>[] = [worker()];
    const interval = o.intervalMs ?? ADD_STREAM_EVERY_MS;
    let lastBytes = total();
    let lastRate = 0;
    const timer = setInterval(() => {
      const now = total();
      const rate = now - lastBytes;
      lastBytes = now;
      const grew = lastRate === 0 ? rate > 0 : rate >= lastRate * GROWTH;
      if (grew && workers.length < o.maxStreams && next()) {
        ctx.log.debug(`${oid}: ${workers.length + 1} download streams (${Math.round(rate / interval)} kB/s)`);
        workers.push(worker());
        lastRate = rate;
      } else if (rate > lastRate) lastRate = rate;
    }, interval);
    try {
      // Workers may be added while we wait: wait until none is left running.
      for (let n = 0; n < workers.length; n++) await workers[n];
    } finally {
      clearInterval(timer);
    }
    if (failure) throw failure;
    await advanceHash();
    await hashPrefix(part, hash, size);
    await fh.sync();
    return hash;
  } finally {
    await fh.close();
  }
}

class SegmentFull extends Error {}
