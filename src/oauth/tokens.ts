/**
 * Token sets and the token endpoint. A TokenSet keeps its secrets in private fields: JSON, inspect and string
 * forms show who and until when, never a token; every secret is registered with the log mask.
 * Token requests are ours — form bodies through src/http — never query strings (the Dropbox SDK puts
 * code_verifier and refresh_token in the URL).
 * See docs/architecture.md "Secrets and logging", docs/providers.md "OAuth across providers".
 */
import { inspect } from 'node:util';
import { authError, BridgeError, configError } from '../errors.js';
import { maskInLogs } from '../log.js';
import type { OAuthProvider, OAuthSpec } from './spec.js';

/** The keychain record at `token:<provider>:<account>` (JSON). */
export interface TokenRecord {
  access: string;
  refresh?: string;
  /** Access token expiry, ms since the epoch. */
  expiresAt: number;
  scope?: string;
  account: string;
  displayName?: string;
  email?: string;
  /** The app the tokens were issued to: refreshing needs it. */
  clientId: string;
  /** Google desktop clients only (not a secret there, but it stays in the keychain anyway). */
  clientSecret?: string;
  /**
   * The LFS_BRIDGE_<P>_ENDPOINT override the tokens came from (absent: the provider itself). They are only ever
   * sent back there (access.ts).
   */
  endpoint?: string;
}

export class TokenSet {
  readonly #access: string;
  readonly #refresh: string | undefined;
  readonly #clientSecret: string | undefined;
  readonly expiresAt: number;
  readonly scope?: string;
  readonly account: string;
  readonly displayName?: string;
  readonly email?: string;
  readonly clientId: string;
  readonly endpoint?: string;

  constructor(
    readonly provider: OAuthProvider,
    r: TokenRecord,
  ) {
    this.#access = r.access;
    this.#refresh = r.refresh;
    this.#clientSecret = r.clientSecret;
    this.expiresAt = r.expiresAt;
    this.scope = r.scope;
    this.account = r.account;
    this.displayName = r.displayName;
    this.email = r.email;
    this.clientId = r.clientId;
    this.endpoint = r.endpoint;
    maskInLogs(r.access, r.refresh, r.clientSecret);
  }

  get accessToken(): string {
    return this.#access;
  }
  get refreshToken(): string | undefined {
    return this.#refresh;
  }
  get clientSecret(): string | undefined {
    return this.#clientSecret;
  }

  /** The access token is still good `ms` from now. */
  validFor(ms: number, now = Date.now()): boolean {
    return this.expiresAt - now >= ms;
  }

  /** A copy with a refresh's answer applied; a missing refresh_token keeps the old one (no rotation). */
  refreshed(r: TokenResponse, now = Date.now()): TokenSet {
    return new TokenSet(this.provider, {
      ...this.record(),
      access: r.access_token,
      refresh: r.refresh_token ?? this.#refresh,
      expiresAt: expiresAt(r, now),
      scope: r.scope ?? this.scope,
    });
  }

  private record(): TokenRecord {
    return {
      access: this.#access,
      refresh: this.#refresh,
      expiresAt: this.expiresAt,
      scope: this.scope,
      account: this.account,
      displayName: this.displayName,
      email: this.email,
      clientId: this.clientId,
      clientSecret: this.#clientSecret,
      endpoint: this.endpoint,
    };
  }

  /** The keychain form: the only place the secrets are serialised. */
  toRecord(): string {
    return JSON.stringify(this.record());
  }

  static fromRecord(provider: OAuthProvider, account: string, json: string): TokenSet {
    let r: Partial<TokenRecord>;
    try {
      r = JSON.parse(json);
    } catch {
      r = {};
    }
    if (typeof r.access !== 'string' || typeof r.clientId !== 'string') {
      throw authError(`[${provider}] the stored login for ${account} is unreadable: run lfs-bridge login ${provider}`);
    }
    return new TokenSet(provider, {
      ...r,
      account: r.account ?? account,
      expiresAt: Number(r.expiresAt) || 0,
    } as TokenRecord);
  }

  /** Logs and --json: no secrets. */
  toJSON() {
    return {
      provider: this.provider,
      account: this.account,
      email: this.email,
      displayName: this.displayName,
      expiresAt: this.expiresAt,
      scope: this.scope,
      endpoint: this.endpoint,
    };
  }
  toString(): string {
    return `TokenSet(${this.provider}:${this.account})`;
  }
  [inspect.custom](): string {
    return this.toString();
  }
}

/** A token endpoint's success answer (RFC 6749 §5.1). */
export interface TokenResponse {
  access_token: string;
  token_type?: string;
  expires_in?: number;
  refresh_token?: string;
  scope?: string;
}

/** Used when a server leaves out expires_in (all three send it). */
const DEFAULT_EXPIRES_IN = 3600;

export const expiresAt = (r: TokenResponse, now = Date.now()): number =>
  now + (Number(r.expires_in) > 0 ? Number(r.expires_in) : DEFAULT_EXPIRES_IN) * 1000;

/** An OAuth error answer (RFC 6749 §5.2, RFC 8628 §3.5): `error` is what callers branch on. */
export class OAuthError extends BridgeError {
  constructor(
    readonly error: string,
    readonly description: string | undefined,
    readonly status: number,
    message: string,
  ) {
    super('Auth', false, message);
  }
}

/** Token calls: bounded, since a refresh runs under a lock other processes wait on. */
export const TOKEN_CALL_TIMEOUT_MS = 30_000;

/** A token-endpoint answer, checked to hold an access token; every token in it is masked in logs at once. */
export function asTokenResponse(spec: OAuthSpec, json: Record<string, unknown>, what: string): TokenResponse {
  const r = json as unknown as TokenResponse;
  if (typeof r.access_token !== 'string' || !r.access_token) {
    throw new BridgeError('Unexpected', false, `[${spec.provider}] ${what}: the answer has no access_token`);
  }
  maskInLogs(r.access_token, typeof r.refresh_token === 'string' ? r.refresh_token : undefined);
  return r;
}

/** The token-request fields that identify the client. */
export function clientFields(
  spec: OAuthSpec,
  clientId: string,
  clientSecret: string | undefined,
): Record<string, string | undefined> {
  if (spec.sendsClientSecret && !clientSecret) {
    throw configError(
      `[${spec.provider}] a client secret is needed with this client id: set LFS_BRIDGE_${spec.provider.toUpperCase()}_CLIENT_SECRET or lfs-bridge.${spec.provider}.clientsecret`,
    );
  }
  return {
    client_id: clientId,
    client_secret: spec.sendsClientSecret ? clientSecret : undefined,
    scope: spec.scopeOnTokenRequests ? spec.scopes.join(' ') : undefined,
  };
}
