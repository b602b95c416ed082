/**
 * The adaptive number of streams of one transfer (the resumable-clone proposal's scheme), shared by parallel
 * ranged downloads (segments.ts) and concurrent upload pieces (upload-pieces.ts): start with one; every interval,
 * add one while total throughput still grew by ≥ 10 %; step back (and stop ramping) when the last one added did
 * not pay; never split a stream that is already fast (the limit is then here, not in the connection).
 */

/**
 * How often the ramp looks at throughput (docs/architecture.md "The ramp"): 1 s reaches 4 streams sooner than
 * the 2 s first planned, measured in BENCHMARKS.md.
 */
export const ADD_STREAM_EVERY_MS = 1000;
/** Bytes/s of one stream above which parallel streams cannot help (cloud links give one connection far less). */
export const FAST_STREAM = 96 * 1024 * 1024;
const GROWTH = 1.1;

export interface RampOptions {
  max: number;
  intervalMs?: number;
  /** Bytes moved so far (monotonic). */
  bytes: () => number;
  /** Is there work for one more stream? */
  canAdd: () => boolean;
  /** Start one more stream (`target` is already raised). */
  add: () => void;
  /** Told of each change, for the debug log. */
  onChange?: (target: number, bytesPerSec: number) => void;
}

export class Ramp {
  /** Streams wanted now. */
  target = 1;
  private lastBytes: number;
  private lastRate = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly o: RampOptions) {
    this.lastBytes = o.bytes();
    const interval = o.intervalMs ?? ADD_STREAM_EVERY_MS;
    this.timer = setInterval(() => this.tick(interval), interval);
  }

  private tick(interval: number): void {
    const now = this.o.bytes();
    const rate = now - this.lastBytes;
    this.lastBytes = now;
    const perSec = Math.round((rate * 1000) / interval);
    if (this.lastRate > 0 && rate < this.lastRate * GROWTH && this.target > 1) {
      // The last stream added did not pay (CPU-bound, or the link is full): go back and stop ramping.
      this.target -= 1;
      this.lastRate = Number.POSITIVE_INFINITY;
      this.o.onChange?.(this.target, perSec);
      return;
    }
    // A stream this fast is not held back by its connection: another would only compete for the same CPU
    // (measured on loopback: 4 streams 0.67x of one).
    if (perSec / this.target >= FAST_STREAM) return;
    if (rate > 0 && rate >= this.lastRate * GROWTH && this.target < this.o.max && this.o.canAdd()) {
      this.target += 1;
      this.lastRate = rate;
      this.o.onChange?.(this.target, perSec);
      this.o.add();
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
