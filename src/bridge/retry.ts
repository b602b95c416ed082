/**
 * The one place that sleeps and retries: providers classify at the edge, this retries in the centre
 * (docs/architecture.md "Errors and retries").
 * Policy is data; a server's Retry-After beats our backoff; only retryable BridgeErrors are retried.
 */
import { type BridgeError, toBridgeError } from '../errors.js';
import type { Pace } from './pace.js';

export interface RetryPolicy {
  tries: number;
  baseMs: number;
  capMs: number;
  /** Longest wait we accept from a Retry-After (Graph asks for minutes). */
  maxWaitMs: number;
}

export const defaultPolicy: RetryPolicy = { tries: 8, baseMs: 250, capMs: 32_000, maxWaitMs: 15 * 60_000 };

export type SleepFn = (ms: number, signal?: AbortSignal) => Promise<void>;

export const sleep: SleepFn = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

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

/** Full-jitter exponential backoff: random in [0, min(cap, base·2^(n-1))]. */
export function backoffMs(attempt: number, p: RetryPolicy = defaultPolicy, rand = Math.random): number {
  return Math.round(rand() * Math.min(p.capMs, p.baseMs * 2 ** (attempt - 1)));
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

/** Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function parseRetryAfter(v: string | null | undefined, now = Date.now()): number | undefined {
  if (!v) return undefined;
  const t = v.trim();
  // Delay-seconds, or an IMF-fixdate like "Wed, 21 Oct 2015 07:28:00 GMT" (V8's Date.parse takes "1.5" as a date).
  const ms = /^\d+$/.test(t) ? Number(t) * 1000 : /^[A-Za-z]{3},/.test(t) ? Date.parse(t) - now : Number.NaN;
  return Number.isNaN(ms) ? undefined : Math.max(0, ms);
}
