/**
 * A response body that fills the caller's buffers instead of handing out its own: the downloader says where the
 * next bytes go (a region of one of its 1 MiB write buffers), the body puts them there. Over a direct connection
 * (direct-get.ts) the socket reads straight into those regions; a Node stream (undici, a local file) is copied.
 */
import type { Readable } from 'node:stream';

export interface FillSink {
  /** Where the next bytes go (never empty), or null to pause the body until `resume()`. */
  region(): Uint8Array | null;
  /** `n` bytes arrived at the start of the region last given. May call `destroy()` (bytes no longer wanted). */
  filled(n: number): void;
}

export interface FillBody {
  /** Feeds the body into `sink`; resolves at its end or at `destroy()`, rejects on a failure or `destroy(err)`. */
  pipeTo(sink: FillSink): Promise<void>;
  /** The sink has a region again after answering null. */
  resume(): void;
  /** Ends the body early (the connection is closed); with `err`, `pipeTo` rejects with it. */
  destroy(err?: Error): void;
}

/** A Node stream as a FillBody (one copy per chunk). */
export function readableFill(r: Readable): FillBody {
  let sink: FillSink | undefined;
  let pending: Buffer | undefined;
  let finish: ((e?: Error) => void) | undefined;
  let ended = false;
  let early: Error | null | undefined; // how it ended before pipeTo (destroy, a stream error)
  const done = (e?: Error) => {
    if (ended) return;
    ended = true;
    finish?.(e);
  };
  // Listened from the start: a stream destroyed or failing before pipeTo (undici's body errors when destroyed
  // unread) must not become an uncaught 'error'.
  r.on('error', (e) => {
    if (!sink && early === undefined) early = e; // null (destroyed without an error) stays
    done(e);
  });
  /** Copies `c` into the sink's regions; what did not fit (the sink paused) is returned. */
  const deliver = (c: Buffer): Buffer | undefined => {
    while (c.length > 0 && !ended) {
      const reg = sink!.region();
      if (!reg) return c;
      const n = Math.min(reg.length, c.length);
      reg.set(n === c.length ? c : c.subarray(0, n));
      c = c.subarray(n);
      sink!.filled(n);
    }
    return undefined;
  };
  return {
    pipeTo(s) {
      sink = s;
      if (early !== undefined) return early ? Promise.reject(early) : Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        finish = (e) => (e ? reject(e) : resolve());
        r.on('data', (c: Buffer) => {
          pending = deliver(c);
          if (pending) r.pause();
        });
        r.once('end', () => {
          if (!pending) done(); // else the end comes when the rest is delivered (resume)
        });
        r.once('close', () => {
          if (!r.readableEnded) done(new Error('the response body closed before its end'));
        });
      });
    },
    resume() {
      if (ended || !pending) return;
      pending = deliver(pending);
      if (pending) return;
      if (r.readableEnded) done();
      else r.resume();
    },
    destroy(err) {
      if (!sink && early === undefined) early = err ?? null;
      done(err);
      r.destroy();
    },
  };
}

/** The whole body in memory: small bodies and tests only. */
export async function fillToBuffer(body: FillBody): Promise<Buffer> {
  const parts: Buffer[] = [];
  let cur = Buffer.allocUnsafe(64 * 1024);
  let used = 0;
  await body.pipeTo({
    region: () => cur.subarray(used),
    filled: (n) => {
      used += n;
      if (used === cur.length) {
        parts.push(cur);
        cur = Buffer.allocUnsafe(cur.length);
        used = 0;
      }
    },
  });
  parts.push(cur.subarray(0, used));
  return Buffer.concat(parts);
}
