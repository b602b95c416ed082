/**
 * The OAuth 2 grant calls — the authorization code with its PKCE verifier, refresh, device authorization and the
 * device-code grant (RFC 8628), revocation (RFC 7009) — through oauth4webapi, a standards-checked client, with its
 * fetch routed through src/http (proxy settings, the LFS_BRIDGE_<P>_ENDPOINT override, timeouts). Loaded only when
 * a grant is made: the agent's start-up path does not import it. What differs between providers stays in their
 * spec (spec.ts); the errors users act on are made here, in one place.
 */
import type * as O from 'oauth4webapi';
import { authError, BridgeError, rateLimited, transient } from '../errors.js';
import { http, isLoopbackHost, text } from '../http/index.js';
import { redact } from '../log.js';
import { type OAuthSpec, urlFor } from './spec.js';
import {
  asTokenResponse,
  clientFields,
  OAuthError,
  TOKEN_CALL_TIMEOUT_MS,
  type TokenResponse,
  type TokenSet,
} from './tokens.js';

export interface ClientCredentials {
  clientId: string;
  clientSecret?: string;
}

type Lib = typeof O;
const lib = (): Promise<Lib> => import('oauth4webapi');

/** The server as oauth4webapi takes it, every endpoint with the endpoint override applied. */
function server(spec: OAuthSpec, env: NodeJS.ProcessEnv): O.AuthorizationServer {
  const token = urlFor(spec, spec.tokenUrl, env);
  return {
    issuer: new URL(token).origin,
    token_endpoint: token,
    device_authorization_endpoint: spec.deviceCodeUrl ? urlFor(spec, spec.deviceCodeUrl, env) : undefined,
    revocation_endpoint: typeof spec.revoke === 'string' ? urlFor(spec, spec.revoke, env) : undefined,
  };
}

/**
 * What every call shares: the client and how it authenticates (a public client sends only its id; Google's desktop
 * clients post their secret too), the scope where the server wants it on token requests, and the fetch.
 */
function setup(m: Lib, spec: OAuthSpec, env: NodeJS.ProcessEnv, c: ClientCredentials, what: string) {
  const as = server(spec, env);
  const client: O.Client = { client_id: c.clientId };
  const auth = spec.sendsClientSecret && c.clientSecret ? m.ClientSecretPost(c.clientSecret) : m.None();
  const url = new URL(as.token_endpoint as string);
  const options = {
    [m.customFetch]: fetchThrough(spec, env, what),
    // Plain http only for a loopback endpoint override (the tests' fake servers); real endpoints are https.
    [m.allowInsecureRequests]: url.protocol === 'http:' && isLoopbackHost(url.hostname),
    additionalParameters: spec.scopeOnTokenRequests ? { scope: spec.scopes.join(' ') } : undefined,
    signal: () => AbortSignal.timeout(TOKEN_CALL_TIMEOUT_MS),
  };
  return { as, client, auth, options };
}

/**
 * oauth4webapi's fetch: one request through src/http. 429 and 5xx become retryable errors whatever the body, and
 * Google's `verification_url` is given the name RFC 8628 uses (`verification_uri`), which the library requires.
 */
function fetchThrough(spec: OAuthSpec, env: NodeJS.ProcessEnv, what: string) {
  const tag = `[${spec.provider}] ${what}`;
  return async (url: string, init: O.CustomFetchOptions<string, URLSearchParams>): Promise<Response> => {
    const res = await http({
      method: init.method,
      url,
      headers: init.headers,
      body: init.body === undefined ? undefined : String(init.body),
      env,
      signal: init.signal,
    });
    let raw = await text(res);
    let json: Record<string, unknown> | undefined;
    try {
      const v = JSON.parse(raw);
      if (v && typeof v === 'object' && !Array.isArray(v)) json = v;
    } catch {
      // not JSON: the library says what it expected
    }
    const error = typeof json?.error === 'string' ? `${tag} failed: ${json.error}` : `${tag}: HTTP ${res.status}`;
    if (res.status >= 500) throw transient(redact(error));
    if (res.status === 429) throw rateLimited(redact(error));
    if (json && typeof json.verification_url === 'string' && json.verification_uri === undefined)
      raw = JSON.stringify({ ...json, verification_uri: json.verification_url });
    const headers = new Headers();
    for (const [k, v] of Object.entries(res.headers)) {
      if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    }
    return new Response(res.status === 204 ? null : raw, { status: res.status, headers });
  };
}

/** The library's errors as ours: an OAuth error answer keeps its `error` code for callers to branch on. */
function ours(m: Lib, spec: OAuthSpec, what: string, e: unknown): Error {
  if (e instanceof BridgeError) return e;
  const tag = `[${spec.provider}] ${what}`;
  if (e instanceof m.ResponseBodyError) {
    const desc = e.error_description;
    return new OAuthError(e.error, desc, e.status, redact(`${tag} failed: ${e.error}${desc ? ` (${desc})` : ''}`));
  }
  if (e instanceof m.WWWAuthenticateChallengeError) {
    return new OAuthError('invalid_client', undefined, e.status, redact(`${tag} failed: the client was refused`));
  }
  return new BridgeError('Unexpected', false, redact(`${tag}: ${(e as Error).message}`), { cause: e });
}

async function tokenCall(
  spec: OAuthSpec,
  env: NodeJS.ProcessEnv,
  c: ClientCredentials,
  what: string,
  call: (m: Lib, s: ReturnType<typeof setup>) => Promise<O.TokenEndpointResponse>,
): Promise<TokenResponse> {
  const m = await lib();
  try {
    const json = await call(m, setup(m, spec, env, c, what));
    return asTokenResponse(spec, json as unknown as Record<string, unknown>, what);
  } catch (e) {
    throw ours(m, spec, what, e);
  }
}

/** The refresh_token grant (RFC 6749 §6). */
export function refreshTokens(spec: OAuthSpec, env: NodeJS.ProcessEnv, c: ClientCredentials, refreshToken: string) {
  return tokenCall(spec, env, c, 'token refresh', async (m, s) =>
    m.processRefreshTokenResponse(
      s.as,
      s.client,
      await m.refreshTokenGrantRequest(s.as, s.client, s.auth, refreshToken, s.options),
    ),
  );
}

/** The authorization_code grant with the PKCE verifier (RFC 6749 §4.1.3, RFC 7636 §4.5); state was checked already. */
export function codeTokens(
  spec: OAuthSpec,
  env: NodeJS.ProcessEnv,
  c: ClientCredentials,
  o: { code: string; verifier: string; redirectUri?: string },
) {
  return tokenCall(spec, env, c, 'code exchange', async (m, s) => {
    // The generic request: a pasted code (no redirect) is exchanged without redirect_uri, as it was asked.
    const params = new URLSearchParams(s.options.additionalParameters);
    params.set('code', o.code);
    params.set('code_verifier', o.verifier);
    if (o.redirectUri) params.set('redirect_uri', o.redirectUri);
    const { additionalParameters: _, ...options } = s.options;
    const res = await m.genericTokenEndpointRequest(s.as, s.client, s.auth, 'authorization_code', params, options);
    return m.processGenericTokenEndpointResponse(s.as, s.client, res);
  });
}

/** The device-code grant (RFC 8628 §3.4): one poll; authorization_pending and slow_down come as OAuthErrors. */
export function deviceTokens(spec: OAuthSpec, env: NodeJS.ProcessEnv, c: ClientCredentials, deviceCode: string) {
  return tokenCall(spec, env, c, 'device login', async (m, s) =>
    m.processDeviceCodeResponse(
      s.as,
      s.client,
      await m.deviceCodeGrantRequest(s.as, s.client, s.auth, deviceCode, s.options),
    ),
  );
}

/** Device authorization (RFC 8628 §3.1–3.2): the code to show and where. */
export async function deviceAuthorization(
  spec: OAuthSpec,
  env: NodeJS.ProcessEnv,
  c: ClientCredentials,
): Promise<O.DeviceAuthorizationResponse> {
  const m = await lib();
  const what = 'device authorization';
  try {
    const s = setup(m, spec, env, c, what);
    const res = await m.deviceAuthorizationRequest(s.as, s.client, s.auth, { scope: spec.scopes.join(' ') }, s.options);
    return await m.processDeviceAuthorizationResponse(s.as, s.client, res);
  } catch (e) {
    throw ours(m, spec, what, e);
  }
}

/** RFC 7009 revocation; false when the server says the token was already invalid (400, 401). */
export async function revokeToken(
  spec: OAuthSpec,
  env: NodeJS.ProcessEnv,
  c: ClientCredentials,
  token: string,
): Promise<boolean> {
  const m = await lib();
  const what = 'revocation';
  try {
    const s = setup(m, spec, env, c, what);
    const res = await m.revocationRequest(s.as, s.client, s.auth, token, s.options);
    if (res.status === 400 || res.status === 401) return false;
    await m.processRevocationResponse(res);
    return true;
  } catch (e) {
    throw ours(m, spec, what, e);
  }
}

/** The refresh_token grant (RFC 6749 §6), with the error our users can act on. */
export async function refreshGrant(spec: OAuthSpec, set: TokenSet, env: NodeJS.ProcessEnv): Promise<TokenResponse> {
  const relogin = `run lfs-bridge login ${spec.provider}${set.email && set.account !== set.email ? ` --account ${set.account}` : ''}`;
  if (!set.refreshToken) throw authError(`[${spec.provider}] login expired (no refresh token stored): ${relogin}`);
  try {
    clientFields(spec, set.clientId, set.clientSecret); // a missing client secret fails here, with the fix
    return await refreshTokens(spec, env, { clientId: set.clientId, clientSecret: set.clientSecret }, set.refreshToken);
  } catch (e) {
    if (e instanceof OAuthError) {
      if (e.error === 'invalid_grant')
        throw authError(`[${spec.provider}] login expired or revoked: log in again (${relogin})`);
      if (e.error === 'invalid_client' || e.error === 'unauthorized_client') {
        throw authError(
          `[${spec.provider}] the app (client id ${set.clientId}) was refused: ${e.description ?? e.error}; ${relogin}`,
        );
      }
    }
    throw e;
  }
}
