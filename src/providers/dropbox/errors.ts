/**
 * Dropbox's answers turned into BridgeErrors. 409 carries an
 * `error_summary` path of tags; 429 always has Retry-After (or `retry_after` in the body); an expired access
 * token is retryable once the token has been refreshed.
 * See docs/providers.md "Errors" (Dropbox): one classifier per provider.
 */

import { BridgeError } from '../../errors.js';
import { parseRetryAfter } from '../../lib/backoff.js';
import type { ApiErrorBody } from './api.js';

export class DropboxError extends BridgeError {
  constructor(
    kind: BridgeError['kind'],
    retryable: boolean,
    message: string,
    readonly summary: string,
    readonly body: ApiErrorBody,
    retryAfterMs?: number,
  ) {
    super(kind, retryable, `[dropbox] ${message}`, { retryAfterMs });
  }
  /** `correct_offset` of an incorrect_offset answer (append or finish), if this is one. */
  get correctOffset(): number | undefined {
    const e = this.body.error;
    return e?.correct_offset ?? e?.lookup_failed?.correct_offset;
  }
}

function parse(text: string): ApiErrorBody {
  try {
    const v = JSON.parse(text);
    return typeof v === 'object' && v ? v : {};
  } catch {
    return {};
  }
}

const has = (summary: string, tag: string) => summary.split('/').includes(tag);

export function classify(status: number, text: string, retryAfter: string | undefined, what: string): DropboxError {
  const body = parse(text);
  const summary = body.error_summary ?? body.error?.['.tag'] ?? '';
  const wait =
    parseRetryAfter(retryAfter) ?? (body.error?.retry_after !== undefined ? body.error.retry_after * 1000 : undefined);
  const short = (summary || text).slice(0, 200).replace(/\s+/g, ' ');
  const mk = (kind: BridgeError['kind'], retryable: boolean, msg: string, after?: number) =>
    new DropboxError(kind, retryable, `${what}: ${msg}`, summary, body, after);

  if (status === 401) {
    if (has(summary, 'expired_access_token')) return mk('Auth', true, 'access token expired', 0);
    return mk('Auth', false, `the login was refused (${short}): log in again with lfs-bridge login dropbox`);
  }
  if (status === 429) return mk('RateLimited', true, `rate limited (${short || 'too_many_requests'})`, wait);
  if (status >= 500) return mk('Transient', true, `server error ${status}`, wait);
  if (status === 400) return mk('BadRequest', false, `bad request: ${short}`);
  if (status === 403) return mk('Forbidden', false, `forbidden: ${short}`);
  if (status === 409) {
    if (has(summary, 'incorrect_offset')) return mk('Conflict', true, `offset mismatch (${short})`, 0);
    if (has(summary, 'not_found')) return mk('NotFound', false, 'not found');
    if (has(summary, 'conflict')) return mk('Conflict', false, 'another file is already stored under this name');
    if (has(summary, 'insufficient_space')) return mk('Quota', false, 'the Dropbox is full');
    if (has(summary, 'no_write_permission'))
      return mk('Forbidden', false, 'no write permission at the root (lfs-bridge.root)');
    if (has(summary, 'too_many_write_operations')) return mk('RateLimited', true, 'too many write operations', wait);
    if (has(summary, 'closed') || has(summary, 'not_closed'))
      return mk('NotFound', false, `upload session unusable (${short})`);
    if (has(summary, 'content_hash_mismatch')) return mk('Corrupt', false, 'content hash mismatch');
    if (has(summary, 'too_large'))
      return mk('BadRequest', false, 'the object is larger than Dropbox stores in one file (too_large)');
    return mk('Unexpected', false, short);
  }
  if (status === 413) return mk('BadRequest', false, 'request too large');
  return mk('Unexpected', false, `HTTP ${status}: ${short}`);
}
