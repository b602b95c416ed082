/**
 * Parallel ranged download of one object: start with one stream, and let the ramp (ramp.ts) add streams while
 * they pay, up to lfs-bridge.downloadstreams. Segments land at their offsets in the .part; a sidecar records each
 * segment's bytes written (updated after the data, so it may lag the file but never lead it). SHA-256 runs in
 * object order in the part file (partfile.ts): from memory at the frontier, read back for segments behind it.
 * With one stream this is the plain sequential download: one request from the first missing byte to the end.
 */
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { BridgeError, corrupt, transient } from '../errors.js';
import { writeAllAt } from '../fsutil.js';
import type { FillSink } from '../http/fill-body.js';
import { sleep } from '../lib/sleep.js';
import type { TransferContext } from './context.js';
import { openPartFile } from './partfile.js';
import type { ProgressMeter } from './progress.js';
import { Ramp } from './ramp.js';
import { type RangeOpener, rangeOpener } from './read-range.js';
import { withRetry } from './retry.js';

export const SEGMENT = 8 * 1024 * 1024;
/** Where bytes before the asked start go when a server answers a Range with the whole object. */
const SKIP_BUFFER = 64 * 1024;
/** The sidecar is also saved this often within a segment: what a kill -9 loses is what arrived since. */
const SAVE_EVERY_MS = 200;

interface Segment {
  start: number;
  end: number;
  /** Bytes of this segment on disk (from `start`). */
  done: number;
  /** Bytes handed to the part file (≥ done; not saved): what a stream claims from. */
  sent?: number;
  busy?: boolean;
}

/** The sidecar. (Sidecars of older versions also carry a `segment` size, never read: ignored.) */
interface State {
  size: number;
  segments: Segment[];
}

/**
 * The segment size for a new download: 8 MiB, smaller for an object that would give each stream fewer than 16
 * (a stream reads a run of segments in one request, so small segments cost no requests; they shorten the tail,
 * where the last segment of a slow connection would otherwise run alone).
 */
export function segmentFor(size: number, streams: number): number {
  const MiB = 1024 * 1024;
  return Math.min(SEGMENT, Math.max(MiB, Math.floor(size / (16 * streams) / MiB) * MiB));
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

/**
 * The segments recorded in the sidecar; 'sequential' when there is no segment record (no sidecar, or one from the
 * one-stream path: the partial is a plain prefix); 'untrusted' when a record exists but cannot be believed.
 */
export async function loadState(
  statePath: string,
  size: number,
  partLength: number,
): Promise<Segment[] | 'sequential' | 'untrusted'> {
  let st: State;
  try {
    st = JSON.parse(await readFile(statePath, 'utf8')) as State;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'sequential' : 'untrusted';
  }
  if (!Array.isArray(st.segments)) return 'sequential';
  if (st.size !== size) return 'untrusted';
  // The sidecar may lag the file, never lead it: a segment claiming bytes past the file's end is not trusted.
  for (const s of st.segments) {
    if ((s.done > 0 && s.start + s.done > partLength) || s.done < 0 || s.start + s.done > s.end) return 'untrusted';
    s.busy = false;
  }
  return st.segments;
}

/**
 * Writes the sidecar atomically (tmp + rename). On a full disk there is no room for the new file, but there is for
 * a record written over the old one in its own blocks: what was received before the disk filled is then kept
 * for the next pull. A crash in the middle of that write leaves a record that does not parse: not trusted, the
 * download starts over, nothing wrong is kept.
 */
async function saveRecord(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, text);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOSPC' && code !== 'EDQUOT') throw e;
    const fh = await open(path, 'r+');
    try {
      const b = Buffer.from(text);
      await writeAllAt(fh, b, 0);
      await fh.truncate(b.length);
    } finally {
      await fh.close();
    }
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
  /** The ramp's measurement window (ramp.ts). */
  windowMs?: number;
  /** Write and hash on the disk thread (default: by size, see partfile.ts). */
  diskThread?: boolean;
  /** Where ranges come from (default: the provider's read target, read-range.ts); tests script bodies here. */
  open?: RangeOpener;
}

/** Fills `part` with the whole object in parallel ranges, verifies its SHA-256, and makes it durable. */
export async function fetchSegments(o: SegmentOptions): Promise<void> {
  const { ctx, oid, size, part: partPath } = o;
  const p = ctx.provider;
  const openRange = o.open ?? rangeOpener(p, ctx.env);
  const fh = await open(partPath, 'a+');
  let length: number;
  let loaded: Awaited<ReturnType<typeof loadState>>;
  try {
    length = (await fh.stat()).size;
    loaded = await loadState(o.statePath, size, length);
    if (loaded === 'untrusted' || length > size) {
      // Holes are possible and nothing says where: start over rather than hand over a guess.
      ctx.log.debug(
        `download of ${oid} from byte 0: the partial of ${length} bytes is dropped (${length > size ? 'longer than the object' : 'its sidecar cannot be believed'})`,
      );
      await fh.truncate(0);
      length = 0;
    }
  } finally {
    await fh.close();
  }
  let segs: Segment[];
  if (Array.isArray(loaded)) segs = loaded;
  else {
    // A plain sequential partial (or none): its prefix becomes done bytes of the leading segments.
    segs = plan(size, o.segment ?? segmentFor(size, o.maxStreams));
    let left = length;
    for (const s of segs) {
      s.done = Math.min(left, s.end - s.start);
      left -= s.done;
    }
  }
  for (const s of segs) s.sent = s.done;
  const kept = segs.reduce((n, s) => n + s.done, 0);
  if (kept > 0) {
    const from = segs.find((s) => s.done < s.end - s.start);
    ctx.log.debug(
      `download of ${oid} from byte ${from ? from.start + from.done : size}: partial kept (${kept} bytes ${Array.isArray(loaded) ? 'in the segments its sidecar records' : 'in one prefix'}; hashed with the rest, and the whole checked against the oid before the hand-over)`,
    );
  }
  const t0 = performance.now();
  const part = await openPartFile(partPath, oid, size, o.diskThread);
  try {
    const total = () => segs.reduce((n, s) => n + s.done, 0);
    // Saved in order and atomically (tmp + rename): a reader never sees a half-written or an older record.
    let saving = Promise.resolve();
    let savedAt = performance.now();
    const saveState = () => {
      savedAt = performance.now();
      saving = saving
        .then(async () => {
          const st: State = {
            size,
            segments: segs.map(({ start, end, done }) => ({ start, end, done })),
          };
          await saveRecord(o.statePath, JSON.stringify(st));
        })
        .catch(() => {});
      return saving;
    };
    o.meter.update(total());

    // The hash follows the contiguous prefix of bytes in the file (in order with the writes, in the part file).
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
      hashing = hashing.then(() => part.hashTo(contiguous()));
      return hashing;
    };
    void advanceHash(); // a resumed prefix first, so that new bytes at its end are hashed from memory

    const open_ = (x: Segment) => !x.busy && (x.sent ?? x.done) < x.end - x.start;
    let running = 0;
    /** Bytes received from the network (not yet written, re-reads included): the ramp's measure, in socket reads. */
    let received = 0;
    let ramp: Ramp | undefined; // streams wanted now: ramp.target (1 until it starts)
    const target = () => ramp?.target ?? 1;
    /**
     * Where a new stream starts: the first stream at the first unfinished segment; a later one in the middle of
     * the longest run of unclaimed segments, so each stream reads one long range instead of a request per segment.
     */
    const claim = (): number => {
      let best = -1;
      let bestLen = 0;
      for (let k = 0; k < segs.length; ) {
        if (!open_(segs[k])) {
          k++;
          continue;
        }
        let e = k;
        while (e < segs.length && open_(segs[e])) e++;
        if (e - k > bestLen) {
          best = k;
          bestLen = e - k;
        }
        k = e;
      }
      if (best < 0) return -1;
      // A stream reading just before this run will go on into it: start half-way instead.
      return segs[best - 1]?.busy ? best + Math.floor(bestLen / 2) : best;
    };
    let failure: unknown;
    const ac = new AbortController();
    const worker = async (): Promise<void> => {
      running++;
      try {
        for (let k = claim(); k >= 0 && !failure && running <= target(); k = claim()) {
          await readRun(k);
        }
      } catch (e) {
        failure ??= e;
        ac.abort();
      } finally {
        running--;
      }
    };
    /** Reads from segment k on, in one request, through following segments while no other stream holds them. */
    const readRun = async (k: number): Promise<void> => {
      let cur = k;
      segs[cur].busy = true;
      // Writes of this run still in flight: the network thread goes on receiving while the disk thread writes.
      const inFlight = new Set<Promise<void>>();
      let writeError: unknown;
      const settle = async () => {
        while (inFlight.size) await Promise.allSettled([...inFlight]);
        if (writeError) throw writeError; // the disk failed: not the network, no retry
      };
      let buf: Buffer | undefined;
      let scratch: Buffer | undefined;
      try {
        await withRetry(async () => {
          await settle(); // what a failed attempt sent is in the file (and in `done`) before we go on
          const s0 = segs[cur];
          s0.sent = s0.done;
          const from = s0.start + s0.done;
          if (from >= s0.end) return;
          let last = cur;
          while (last + 1 < segs.length && open_(segs[last + 1])) last++;
          const r = await openRange(oid, size, from, segs[last].end, ac.signal);
          if (r.start > from) {
            r.body.destroy();
            throw new BridgeError('Unexpected', false, `${p.name} answered from byte ${r.start}, asked ${from}`);
          }
          let skip = from - r.start; // 200 instead of 206: skip to where this segment stands
          let at = from;
          // The body fills 1 MiB buffers (over a direct connection the socket reads into them); each full buffer,
          // or the end of a segment, is one positioned write (and hash) on the disk thread.
          let fill = 0;
          let stop = false;
          let waiting = false; // for a free buffer or the rate limit: the body is paused
          const body = r.body;
          buf ??= part.tryBuffer() ?? (await part.buffer());
          /** Hands buf[0, fill) to the part file; the caller takes the next buffer. */
          const writeOut = () => {
            const seg = segs[cur];
            const pos = at;
            const n = fill;
            const w: Promise<void> = part.write(buf!, n, pos).then(
              () => {
                // On disk now: the sidecar and progress may count it (they never lead the file).
                seg.done = Math.max(seg.done, pos + n - seg.start);
                o.meter.update(total());
                if (seg.done === seg.end - seg.start) {
                  void saveState();
                  void advanceHash();
                } else if (performance.now() - savedAt >= SAVE_EVERY_MS) void saveState();
              },
              (e) => {
                writeError ??= e;
                body.destroy(e);
              },
            );
            inFlight.add(w);
            void w.finally(() => inFlight.delete(w));
            buf = undefined;
            at += n;
            seg.sent = at - seg.start;
            fill = 0;
            return n;
          };
          /** After a write: the next buffer now, or pause the body until one is free (and the rate allows). */
          const nextBuffer = (wrote: number) => {
            const wait = ctx.rate?.take(wrote) ?? 0;
            buf = wait ? undefined : part.tryBuffer();
            if (buf) return;
            waiting = true;
            void (async () => {
              if (wait) await sleep(wait);
              const b = await part.buffer(); // waits while the disk thread is behind
              if (stop) return part.release(b); // this attempt is over
              buf = b;
              waiting = false;
              body.resume();
            })();
          };
          const sink: FillSink = {
            region() {
              if (stop || waiting || writeError) return null;
              if (skip > 0) {
                scratch ??= Buffer.allocUnsafe(SKIP_BUFFER);
                return scratch.subarray(0, Math.min(skip, SKIP_BUFFER));
              }
              return buf!.subarray(fill, Math.min(buf!.length, segs[cur].end - at));
            },
            filled(n) {
              if (skip > 0) {
                skip -= n;
                return;
              }
              fill += n;
              received += n;
              const seg = segs[cur];
              if (fill < buf!.length && at + fill < seg.end) return;
              nextBuffer(writeOut());
              if (at < seg.end) return;
              // Go on into the next segment only if no other stream holds it (and the ramp wants us).
              const nxt = segs[cur + 1];
              if (!nxt || !open_(nxt) || cur + 1 > last || running > target()) {
                stop = true;
                body.destroy(); // this stream's run ends here
              } else {
                seg.busy = false;
                nxt.busy = true;
                cur += 1;
              }
            },
          };
          try {
            await body.pipeTo(sink);
          } finally {
            stop = true;
            if (fill > 0) writeOut(); // what a body that ended early or failed did deliver is kept
          }
          await settle();
          const s = segs[cur];
          if (s.start + s.done < s.end)
            throw transient(`${p.name} ended a range of ${oid} early at byte ${s.start + s.done}`);
        }, ctx.retry);
      } finally {
        await Promise.allSettled([...inFlight]);
        if (buf) part.release(buf);
        segs[cur].sent = segs[cur].done;
        segs[cur].busy = false;
      }
    };

    const workers: Promise<void>[] = [worker()];
    ramp = new Ramp({
      max: o.maxStreams,
      windowMs: o.windowMs,
      bytes: () => received,
      ceiling: ctx.config.maxRate,
      canAdd: () => claim() >= 0,
      add: () => workers.push(worker()),
      onWindow: (moved, n) => ctx.log.debug(`${oid}: download ramp window: ${moved} bytes at ${n} stream(s)`),
      onChange: (n, rate) => ctx.log.debug(`${oid}: ${n} download streams (${Math.round(rate / 1000)} kB/s before)`),
    });
    try {
      for (;;) {
        // Workers may be added while we wait: wait until none is left running.
        for (let n = 0; n < workers.length; n++) await workers[n];
        if (failure || claim() < 0) break;
        workers.push(worker()); // streams that stepped back together can leave segments unclaimed
      }
    } finally {
      ramp.stop();
      await saveState(); // the last record, in place before anyone reads it again
    }
    if (failure) throw failure;
    await advanceHash();
    const t1 = performance.now();
    const digest = await part.finish();
    const ms = (t: number) => `${Math.round(t)} ms`;
    ctx.log.debug(
      `${oid}: ${size - length} bytes in ${ms(t1 - t0)}, then hash and fsync ${ms(performance.now() - t1)}`,
    );
    if (digest !== oid) throw corrupt(`download of ${oid} from ${p.name}: SHA-256 is ${digest}, expected ${oid}`);
  } finally {
    await part.close();
  }
}
