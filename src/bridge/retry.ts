/**
 * The one place that sleeps and retries: providers classify at the edge, this retries in the centre
 * (docs/architecture.md "Errors and retries").
 * Policy is data; a server's Retry-After beats our backoff; only retryable BridgeErrors are retried.
 */
import { type BridgeError, toBridgeError } from '../errors.js';
import { backoffMs, defaultPolicy, type RetryPolicy } from '../lib/backoff.js';
import { type SleepFn, sleep } from '../lib/sleep.js';
import type { Pace } from './pace.js';

export interface RetryOptions {
  policy?: RetryPolicy;
  signal?: AbortSignal;
  sleep?: SleepFn;
  /**
   * The account's pace, shared with the other agent processes: every attempt waits for it, and a server's
   * request to slow down (Retry-After, a rate-limit error) holds all of them.
   */
  pace?: Pace;
  /** Called before each wait, e.g. to log or to refresh a token. */
  onRetry?: (e: BridgeError, attempt: number, waitMs: number) => void | Promise<void>;
}

export async function withRetry<T>(op: (attempt: number) => Promise<T>, o: RetryOptions = {}): Promise<T> {
  const p = o.policy ?? defaultPolicy;
  const doSleep = o.sleep ?? sleep;
  for (let attempt = 1; ; attempt++) {
    try {
      await o.pace?.ready(o.signal);
      return await op(attempt);
    } catch (raw) {
      const e = toBridgeError(raw);
      if (!e.retryable || o.signal?.aborted) throw raw; // callers may match their own error types
      if (attempt >= p.tries) {
        e.persistent = true;
        throw e;
      }
      const wait = Math.min(e.retryAfterMs ?? backoffMs(attempt, p), p.maxWaitMs);
      if (e.kind === 'RateLimited' || e.retryAfterMs !== undefined) await o.pace?.hold(wait, e.message);
      await o.onRetry?.(e, attempt, wait);
      await doSleep(wait, o.signal);
    }
  }
}
