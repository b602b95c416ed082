/**
 * One closed error family for the whole tool. Providers classify what they see into a kind; only
 * bridge/retry.ts looks at `retryable`; bridge/protocol.ts maps kinds to the wire codes git-lfs prints.
 */
export type ErrorKind =
  | 'BadRequest' // the request from git-lfs itself is wrong (bad oid, missing upload path)
  | 'NotFound' // the object is not on the remote
  | 'Auth' // not logged in, token revoked or expired beyond refresh
  | 'Forbidden'
  | 'RateLimited'
  | 'Transient' // 5xx, reset, stall: a retry may help
  | 'Conflict'
  | 'Quota'
  | 'Corrupt' // hash or size mismatch
  | 'Config' // the user's configuration is wrong: the message names the fix
  | 'Unexpected';

/** Wire codes (docs/protocol.md "Errors and exit codes"): git-lfs only prints them, users and tests read them. */
export const wireCode: Record<ErrorKind, number> = {
  BadRequest: 400,
  Auth: 401,
  Forbidden: 403,
  NotFound: 404,
  Conflict: 409,
  Quota: 507,
  Corrupt: 422,
  RateLimited: 429,
  Transient: 503,
  Config: 400,
  Unexpected: 500,
};

export interface BridgeErrorOptions {
  cause?: unknown;
  /** The server's Retry-After, already in ms: it beats our own backoff. */
  retryAfterMs?: number;
  /**
   * The fix, for people: a command prints it on a line of its own under the message (cli/report-error.ts); the
   * message proper carries it after a colon, so the agent's protocol messages keep it too.
   */
  hint?: string;
}

export class BridgeError extends Error {
  /** Set by withRetry when the tries ran out: nobody retries it again. */
  persistent = false;
  readonly retryAfterMs?: number;
  /** What failed, without the hint. */
  readonly what: string;
  readonly hint?: string;
  constructor(
    readonly kind: ErrorKind,
    readonly retryable: boolean,
    message: string,
    opts: BridgeErrorOptions = {},
  ) {
    super(opts.hint ? `${message}: ${opts.hint}` : message, { cause: opts.cause });
    this.name = `BridgeError(${kind})`;
    this.retryAfterMs = opts.retryAfterMs;
    this.what = message;
    this.hint = opts.hint;
  }
  get code(): number {
    return wireCode[this.kind];
  }
}

export const badRequest = (msg: string) => new BridgeError('BadRequest', false, msg);
export const notFound = (msg: string) => new BridgeError('NotFound', false, msg);
export const corrupt = (msg: string) => new BridgeError('Corrupt', false, msg);
export const configError = (msg: string, hint?: string) => new BridgeError('Config', false, msg, { hint });
export const transient = (msg: string, opts?: BridgeErrorOptions) => new BridgeError('Transient', true, msg, opts);
export const rateLimited = (msg: string, retryAfterMs?: number) =>
  new BridgeError('RateLimited', true, msg, { retryAfterMs });
export const authError = (msg: string, retryable = false) => new BridgeError('Auth', retryable, msg);

const transientNodeCodes = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** Turns anything thrown into a BridgeError; network-level failures are transient. */
export function toBridgeError(e: unknown, context = ''): BridgeError {
  if (e instanceof BridgeError) return e;
  const err = e as NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException };
  const code = err?.code ?? err?.cause?.code;
  const prefix = context ? `${context}: ` : '';
  const msg = `${prefix}${err?.message ?? String(e)}`;
  if (code && transientNodeCodes.has(code)) return transient(msg, { cause: e });
  if (err?.name === 'TypeError' && /fetch failed|terminated/.test(err.message)) return transient(msg, { cause: e });
  if (code === 'ENOSPC' || code === 'EDQUOT') return new BridgeError('Quota', false, msg, { cause: e });
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS')
    return new BridgeError('Forbidden', false, msg, { cause: e });
  return new BridgeError('Unexpected', false, msg, { cause: e });
}
