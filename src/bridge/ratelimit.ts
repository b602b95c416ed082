/**
 * lfs-bridge.maxrate: one token bucket per process shared by every stream it moves, so the limit holds
 * for parallel download streams too. A Transform per stream draws from it.
 */
import { Transform, type TransformCallback } from 'node:stream';

export class RateLimiter {
  private tokens: number;
  private last: number;
  /** Burst of a quarter second: smooth enough for progress, few timers. */
  private readonly burst: number;
  constructor(
    readonly bytesPerSec: number,
    /** The clock (tests pass their own). */
    private readonly now: () => number = Date.now,
  ) {
    this.burst = Math.max(64 * 1024, bytesPerSec / 4);
    this.tokens = this.burst;
    this.last = now();
  }

  /** Ms to wait before `n` more bytes may pass; takes them from the bucket. */
  take(n: number): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) * this.bytesPerSec) / 1000);
    this.last = now;
    this.tokens -= n;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.bytesPerSec);
  }

  stream(): Transform {
    return new Transform({
      transform: (chunk: Buffer, _enc, cb: TransformCallback) => {
        const wait = this.take(chunk.length);
        if (wait === 0) cb(null, chunk);
        else setTimeout(() => cb(null, chunk), wait);
      },
    });
  }
}
