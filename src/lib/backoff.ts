/** Backoff policy as data, full-jitter delays, and Retry-After parsing (RFC 9110): used by every retry loop. */
export interface RetryPolicy {
  tries: number;
  baseMs: number;
  capMs: number;
  /** Longest wait we accept from a Retry-After (Graph asks for minutes). */
  maxWaitMs: number;
}

export const defaultPolicy: RetryPolicy = { tries: 8, baseMs: 250, capMs: 32_000, maxWaitMs: 15 * 60_000 };

/** Full-jitter exponential backoff: random in [0, min(cap, base·2^(n-1))]. */
export function backoffMs(attempt: number, p: RetryPolicy = defaultPolicy, rand = Math.random): number {
  return Math.round(rand() * Math.min(p.capMs, p.baseMs * 2 ** (attempt - 1)));
}

/** Retry-After as seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function parseRetryAfter(v: string | null | undefined, now = Date.now()): number | undefined {
  if (!v) return undefined;
  const t = v.trim();
  // Delay-seconds, or an IMF-fixdate like "Wed, 21 Oct 2015 07:28:00 GMT" (V8's Date.parse takes "1.5" as a date).
  const ms = /^\d+$/.test(t) ? Number(t) * 1000 : /^[A-Za-z]{3},/.test(t) ? Date.parse(t) - now : Number.NaN;
  return Number.isNaN(ms) ? undefined : Math.max(0, ms);
}
