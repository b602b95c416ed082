/**
 * The adaptive number of streams of one transfer, shared by parallel ranged downloads (segments.ts) and concurrent
 * upload pieces (upload-pieces.ts). Start with one stream and measure it over a short window; while the streams
 * added last paid for themselves, double the count, up to the configured maximum; when they added nothing, step
 * back to the count before and stop. Under a per-connection cap the maximum is reached in about a second (a stream
 * added a stream per interval used to waste most of the gain on objects that take seconds). A stream that is
 * already fast is never split: the limit is then on this machine, not in the connection.
 *
 * Each change is followed by windows that are not judged (new streams open connections and fill socket buffers,
 * which looks like a burst or a lull): one, and more while a burst is still decaying; so is the start.
 *
 * Uploads cannot be judged this way: the bytes a sender can count are those the socket took, and socket buffers
 * (megabytes on a fast path) take a whole piece at once and then nothing until the server has read it, so a
 * window says little about the connection. There the ramp is optimistic: the count doubles every measured window
 * while a stream is not fast (what the socket took is an upper bound, so "not fast" is sure), and streams are not
 * taken back: on a link that more streams cannot widen they share it, the same total as one.
 */

/** Length of one measurement window. Four streams are reached after 4 windows: settle, measure, settle, measure. */
export const RAMP_WINDOW_MS = 200;
/** Bytes/s of one stream above which parallel streams cannot help (cloud links give one connection far less). */
export const FAST_STREAM = 96 * 1024 * 1024;
/** The streams added last must deliver at least this share of what they would if each were as fast as the ones
 * before, else they are taken back. */
const PAID_NOTHING = 0.2;
/** ... and at least this share for the count to be doubled again. */
const PAID_WELL = 0.5;
/** Windows a level that does not clearly pay is measured before it is kept or taken back. */
const JUDGE_WINDOWS = 3;
/** A window that carries less than this share of the one before is still the tail of a burst. */
const BURST_DECAY = 0.8;
/** A transfer moving at this share of its configured limit is held by the limit, not by its connections. */
const NEAR_CEILING = 0.8;
/** Most windows left unjudged after a change. */
const MAX_SETTLE = 6;

/** The size of the steps in which a sender counts bytes while the ramp measures (see upload-pieces.ts). */
export const RAMP_READ_BYTES = 64 * 1024;

export interface RampOptions {
  max: number;
  /**
   * 'throughput' (default): streams added are kept only when the measured throughput shows they paid.
   * 'optimistic': `bytes` is only an upper bound (an upload); double while a stream is not fast, never step back.
   */
  judge?: 'throughput' | 'optimistic';
  windowMs?: number;
  /** Bytes moved so far (monotonic). */
  bytes: () => number;
  /** A limit on the whole transfer (bytes/s: lfs-bridge.maxrate): near it, more streams cannot help. */
  ceiling?: number;
  /** Is there work for one more stream? */
  canAdd: () => boolean;
  /** Start one more stream (`target` is already raised). */
  add: () => void;
  /** Told of each change, for the debug log. */
  onChange?: (target: number, bytesPerSec: number) => void;
  /** Told of each window while the ramp decides (bytes moved in it, streams), for the debug log. */
  onWindow?: (moved: number, target: number) => void;
  /** Calls `tick` every `ms` until the returned function is called (tests drive it by hand). */
  every?: (tick: () => void, ms: number) => () => void;
}

const realEvery = (tick: () => void, ms: number) => {
  const t = setInterval(tick, ms);
  return () => clearInterval(t);
};

export class Ramp {
  /** Streams wanted now. */
  target = 1;
  private lastBytes: number;
  /** Windows not judged since the last change (-1: measuring). */
  private settled = 0;
  /** Bytes of the window before, to see a burst decay. */
  private prevMoved = 0;
  /** The accepted level the last streams were added to: its stream count and its bytes per window. */
  private base: { target: number; rate: number } | undefined;
  /** This level's measured windows so far: their count and bytes (judged on their average, not on one window). */
  private level = { windows: 0, bytes: 0 };
  private done = false;
  private readonly stopTimer: () => void;

  constructor(private readonly o: RampOptions) {
    this.lastBytes = o.bytes();
    const ms = o.windowMs ?? RAMP_WINDOW_MS;
    this.stopTimer = (o.every ?? realEvery)(() => this.tick(ms), ms);
  }

  /** One window has passed. */
  tick(windowMs: number): void {
    const now = this.o.bytes();
    const moved = now - this.lastBytes;
    this.lastBytes = now;
    if (this.done) return;
    this.o.onWindow?.(moved, this.target);
    // Optimistic: nothing is judged, so there is nothing to settle (a burst only makes a stream look faster, and
    // the fastest burst of a socket buffer is still far below a fast stream).
    if (this.settled >= 0 && this.o.judge !== 'optimistic') {
      // After a change: at least one window, and more while the throughput is still falling from a burst (an
      // upload first fills the socket buffers at memory speed; loopback buffers hold megabytes), at most a few.
      const falling = this.settled > 0 && moved < this.prevMoved * BURST_DECAY;
      this.prevMoved = moved;
      if (this.settled === 0 || (falling && this.settled < MAX_SETTLE)) {
        this.settled += 1;
        return;
      }
      this.settled = -1;
    }
    this.level.windows += 1;
    this.level.bytes += moved;
    const rate = this.level.bytes / this.level.windows;
    const perSec = Math.round((rate * 1000) / windowMs);
    const base = this.base;
    if (base && this.target > base.target && this.o.judge !== 'optimistic') {
      // Judge the streams added last by their share of what they would add if each were as fast as the others.
      const ideal = (base.rate * this.target) / base.target - base.rate;
      const share = ideal > 0 ? (rate - base.rate) / ideal : 0;
      if (share < PAID_WELL) {
        // Taking streams back by mistake costs far more (a capped connection each) than keeping one too many, so
        // a level that does not clearly pay is measured longer before it is judged.
        if (this.level.windows < JUDGE_WINDOWS) return;
        this.done = true;
        if (share < PAID_NOTHING) {
          // They added nothing (CPU-bound, the link is full, a server cap per account): go back.
          this.target = base.target;
          this.o.onChange?.(this.target, perSec);
        }
        return;
      }
    }
    this.base = { target: this.target, rate };
    // A stream this fast is not held back by its connection: another would only compete for the same CPU
    // (measured on loopback: 4 streams 0.67x of one).
    // (An upload's window may carry nothing at all: its socket is full, which is anything but fast.)
    if (rate <= 0 && this.o.judge !== 'optimistic') return;
    if (perSec / this.target >= FAST_STREAM) {
      this.done = true; // decided: one stream is all this link needs (and a sender may go back to large reads)
      return;
    }
    if (this.o.ceiling && perSec >= this.o.ceiling * NEAR_CEILING) return; // the limit is ours, not the link's
    if (this.target >= this.o.max) {
      this.done = true;
      return;
    }
    const want = Math.min(this.o.max, this.target * 2);
    let added = 0;
    while (this.target < want && this.o.canAdd()) {
      this.target += 1;
      added++;
      this.o.add();
    }
    if (added === 0) return;
    this.settled = 0;
    this.level = { windows: 0, bytes: 0 };
    this.o.onChange?.(this.target, perSec);
  }

  /** Still measuring: the stream count may change. */
  get deciding(): boolean {
    return !this.done;
  }

  stop(): void {
    this.stopTimer();
  }
}
