/**
 * Per-object progress for git-lfs: bytesSoFar only rises, Σ bytesSinceLast equals it,
 * at most one event per interval, the first non-zero event and the final one go out at once
 * (git-lfs holds back workers 1..N-1 until worker 0 reports bytesSoFar > 0).
 * See docs/protocol.md "Progress".
 */
import type { ProgressEvent } from './protocol.js';

export const PROGRESS_INTERVAL_MS = 200;

export class ProgressMeter {
  private reported = 0;
  private pending = 0;
  private lastEmit = 0;
  private timer: NodeJS.Timeout | undefined;
  private emittedAny = false;
  /** After finish() or stop(): nothing may follow an object's `complete`, not even a late stream's position. */
  private done = false;

  constructor(
    readonly oid: string,
    readonly size: number,
    private readonly send: (e: ProgressEvent) => void,
    private readonly intervalMs = PROGRESS_INTERVAL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Bytes done so far for this object. Lower values than already reported are held (re-sent bytes count once). */
  update(bytesSoFar: number): void {
    const v = Math.min(bytesSoFar, this.size);
    if (this.done || v <= this.pending) return;
    this.pending = v;
    const first = this.reported === 0;
    if (first || v === this.size || this.now() - this.lastEmit >= this.intervalMs) {
      this.emit();
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.emit(), this.intervalMs - (this.now() - this.lastEmit));
      this.timer.unref();
    }
  }

  /** The object is complete: report it all (a zero-byte object still gets one event), then stop for good. */
  finish(): void {
    if (this.done) return;
    this.pending = this.size;
    if (this.reported < this.size || !this.emittedAny) this.emit();
    this.stop();
  }

  /** Cancel any pending event and ignore later updates; nothing may follow an object's `complete`. */
  stop(): void {
    this.done = true;
    this.cancelTimer();
  }

  private cancelTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  get bytesReported(): number {
    return this.reported;
  }

  private emit(): void {
    this.cancelTimer();
    if (this.pending <= this.reported && this.emittedAny) return;
    const since = this.pending - this.reported;
    this.reported = this.pending;
    this.lastEmit = this.now();
    this.emittedAny = true;
    this.send({ event: 'progress', oid: this.oid, bytesSoFar: this.reported, bytesSinceLast: since });
  }
}
