/** OAuth 2 of the fake Dropbox: auto-approving /oauth2/authorize (PKCE), /oauth2/token, bearer checks, revoke. */
import { createHash } from 'node:crypto';
import type { Counters } from './faults.js';
import { type Account, DEFAULT_ACCOUNT, type Store } from './store.js';
import { badInput, Reply, randomToken } from './util.js';

interface AccessToken {
  account: string;
  refresh?: string;
  expiresAt: number;
  expired: boolean;
  revoked: boolean;
}

interface RefreshToken {
  account: string;
  clientId: string;
  scope: string;
  revoked: boolean;
}

interface AuthCode {
  clientId: string;
  challenge: string;
  method: 'S256' | 'plain';
  redirectUri?: string;
  offline: boolean;
  scope: string;
  account: string;
  expiresAt: number;
  used: boolean;
}

export interface OAuthOptions {
  appKey: string;
  redirectUris: string[];
  accessTokenTtlSec: number;
  clock: () => number;
  store: Store;
  counters: Counters;
}

/** The scopes our app asks for (docs/providers.md "OAuth", Dropbox). */
export const DEFAULT_SCOPE = 'account_info.read files.content.read files.content.write files.metadata.read';
/** Dropbox does not document a code lifetime; 10 minutes of the test clock here. */
const CODE_TTL_MS = 10 * 60_000;

const json = (status: number, v: unknown) => new Reply(status, JSON.stringify(v));
const oauthError = (error: string, description: string) => json(400, { error, error_description: description });
const page = (status: number, title: string, body: string) =>
  new Reply(
    status,
    `<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1>${body}</body></html>`,
    'text/html; charset=utf-8',
  );
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export class OAuth {
  private readonly access = new Map<string, AccessToken>();
  private readonly refresh = new Map<string, RefreshToken>();
  private readonly codes = new Map<string, AuthCode>();
  /** The account that /oauth2/authorize approves as. */
  authorizeAs = DEFAULT_ACCOUNT;

  constructor(private readonly o: OAuthOptions) {}

  /** Pre-authorised access + refresh tokens for `account`. */
  issue(account = DEFAULT_ACCOUNT, scope = DEFAULT_SCOPE): { access: string; refresh: string } {
    this.o.store.account(account);
    const refresh = randomToken(48);
    this.refresh.set(refresh, { account, clientId: this.o.appKey, scope, revoked: false });
    return { access: this.newAccess(account, refresh), refresh };
  }

  private newAccess(account: string, refresh?: string): string {
    const token = 'sl.' + randomToken(96);
    const expiresAt = this.o.clock() + this.o.accessTokenTtlSec * 1000;
    this.access.set(token, { account, refresh, expiresAt, expired: false, revoked: false });
    return token;
  }

  /** Every access token issued so far now answers 401 expired_access_token. */
  expireAll(): void {
    for (const t of this.access.values()) t.expired = true;
  }

  /**
   * The account behind `Authorization: Bearer …` (or the `authorization` URL parameter, which Dropbox also takes).
   * Missing or malformed header → 400 plain text like Dropbox; unknown/revoked → 401 invalid_access_token;
   * expired → 401 expired_access_token.
   */
  check(route: string, header: string | undefined, param: string | null): { account: Account; token: string } {
    const value = header ?? param ?? undefined;
    if (value === undefined) {
      throw badInput(route, 'Must provide HTTP header "Authorization" or URL parameter "authorization".');
    }
    const m = /^Bearer +(\S+)\s*$/i.exec(value);
    if (!m) {
      throw badInput(
        route,
        `Invalid authorization value in HTTP header "Authorization": ${JSON.stringify(value)}.  Expecting "Bearer <oauth2-access-token>".`,
      );
    }
    const t = this.access.get(m[1]!);
    const fail = (tag: string) =>
      new Reply(401, JSON.stringify({ error_summary: `${tag}/..`, error: { '.tag': tag } }), 'application/json');
    if (!t || t.revoked) throw fail('invalid_access_token');
    if (t.expired || this.o.clock() >= t.expiresAt) throw fail('expired_access_token');
    return { account: this.o.store.account(t.account), token: m[1]! };
  }

  /** auth/token/revoke: the access token, its refresh token and every access token minted from that refresh. */
  revoke(token: string): void {
    const t = this.access.get(token);
    if (!t) return;
    t.revoked = true;
    if (t.refresh) {
      const r = this.refresh.get(t.refresh);
      if (r) r.revoked = true;
      for (const other of this.access.values()) if (other.refresh === t.refresh) other.revoked = true;
    }
  }

  /** GET /oauth2/authorize: approves at once; 302 to redirect_uri?code&state, or a page showing the code. */
  authorize(q: URLSearchParams): Reply {
    const clientId = q.get('client_id');
    if (clientId !== this.o.appKey)
      return page(400, 'Invalid client_id', `<p>Unknown client_id ${esc(clientId ?? '')}</p>`);
    const redirectUri = q.get('redirect_uri') ?? undefined;
    if (redirectUri !== undefined && !this.o.redirectUris.includes(redirectUri)) {
      return page(
        400,
        'Invalid redirect_uri',
        `<p>Invalid redirect_uri: "${esc(redirectUri)}". It must exactly match one of the redirect URIs you've ` +
          'pre-configured for your app (including the path).</p>',
      );
    }
    if (q.get('response_type') !== 'code')
      return page(400, 'Invalid response_type', '<p>response_type must be code</p>');
    const challenge = q.get('code_challenge');
    const method = q.get('code_challenge_method') ?? 'plain';
    // PKCE (RFC 7636 §4.2: 43–128 characters); this fake has no client secret, so PKCE is required.
    if (!challenge || !/^[A-Za-z0-9._~-]{43,128}$/.test(challenge)) {
      return page(400, 'Invalid code_challenge', '<p>code_challenge must be 43-128 characters of [A-Za-z0-9-._~]</p>');
    }
    if (method !== 'S256' && method !== 'plain') {
      return page(400, 'Invalid code_challenge_method', '<p>code_challenge_method must be S256 or plain</p>');
    }
    const tat = q.get('token_access_type') ?? 'legacy';
    if (!['offline', 'online', 'legacy'].includes(tat)) {
      return page(400, 'Invalid token_access_type', '<p>token_access_type must be offline, online or legacy</p>');
    }
    const code = randomToken(32);
    this.codes.set(code, {
      clientId,
      challenge,
      method,
      redirectUri,
      offline: tat === 'offline',
      scope: q.get('scope') ?? DEFAULT_SCOPE,
      account: this.authorizeAs,
      expiresAt: this.o.clock() + CODE_TTL_MS,
      used: false,
    });
    const state = q.get('state');
    if (redirectUri === undefined) {
      return page(
        200,
        'Enter this code into your app',
        `<p>Copy this code:</p><code id="auth-code">${code}</code>` +
          (state !== null ? `<p>state: <span id="state">${esc(state)}</span></p>` : ''),
      );
    }
    const to = new URL(redirectUri);
    to.searchParams.set('code', code);
    if (state !== null) to.searchParams.set('state', state);
    return new Reply(302, '', 'text/plain', { Location: to.toString() });
  }

  /** POST /oauth2/token (form body or query): authorization_code with PKCE, or refresh_token (not rotated). */
  token(p: URLSearchParams, basicUser?: string): Reply {
    const clientId = p.get('client_id') ?? basicUser;
    const grant = p.get('grant_type');
    if (!grant) return oauthError('invalid_request', 'No grant_type provided.');
    if (!clientId) return oauthError('invalid_request', 'No client_id provided.');
    if (clientId !== this.o.appKey) return oauthError('invalid_client', 'Invalid client_id or client_secret');
    if (grant === 'authorization_code') {
      const code = p.get('code');
      if (!code) return oauthError('invalid_request', 'No auth code provided.');
      const c = this.codes.get(code);
      if (!c || c.used || this.o.clock() >= c.expiresAt || c.clientId !== clientId) {
        return oauthError('invalid_grant', "code doesn't exist or has expired");
      }
      const verifier = p.get('code_verifier');
      if (!verifier) return oauthError('invalid_request', 'No code_verifier provided.');
      const computed = c.method === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
      if (computed !== c.challenge) return oauthError('invalid_grant', 'invalid code verifier');
      if ((p.get('redirect_uri') ?? undefined) !== c.redirectUri)
        return oauthError('invalid_grant', 'redirect_uri mismatch');
      c.used = true;
      const acct = this.o.store.account(c.account);
      let refresh: string | undefined;
      if (c.offline) {
        refresh = randomToken(48);
        this.refresh.set(refresh, { account: c.account, clientId, scope: c.scope, revoked: false });
      }
      return json(200, {
        access_token: this.newAccess(c.account, refresh),
        token_type: 'bearer',
        expires_in: this.o.accessTokenTtlSec,
        ...(refresh ? { refresh_token: refresh } : {}),
        scope: c.scope,
        uid: acct.uid,
        account_id: acct.accountId,
      });
    }
    if (grant === 'refresh_token') {
      const rt = p.get('refresh_token');
      if (!rt) return oauthError('invalid_request', 'No refresh_token provided.');
      const r = this.refresh.get(rt);
      if (!r || r.revoked || r.clientId !== clientId)
        return oauthError('invalid_grant', 'refresh token is invalid or revoked');
      this.o.counters.refreshes++;
      return json(200, {
        access_token: this.newAccess(r.account, rt),
        token_type: 'bearer',
        expires_in: this.o.accessTokenTtlSec,
      });
    }
    return oauthError('unsupported_grant_type', `"${grant}" is not a supported grant_type`);
  }
}
