/**
 * A valid access token for the agent: LFS_BRIDGE_<P>_TOKEN as is; else the keychain record's
 * token while it has 5 minutes left; else one refresh under a cross-process lock. git-lfs runs N agents at once:
 * each re-reads the record after taking the lock, so whoever comes second finds the fresh token and N agents
 * refresh once. A rotated refresh token (Microsoft) is written before the lock is released and before the new
 * access token is handed out.
 * See docs/providers.md "OAuth across providers" and docs/architecture.md "Locks".
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { authError, transient } from '../errors.js';
import { endpointFor, endpointVar } from '../http/index.js';
import { stateDir } from '../keychain/index.js';
import { waitLock } from '../lib/lock.js';
import { createLogger, maskInLogs } from '../log.js';
import { accountsIn, chooseAccount, openStore, providerTitle, readToken, writeToken } from './accounts.js';
import { refreshGrant } from './grants.js';
import { envName, type OAuthProvider, specFor } from './spec.js';
import type { TokenSet } from './tokens.js';

/** An access token with less than this left is refreshed first: a transfer started on it should finish on it. */
export const FRESH_MS = 5 * 60_000;
/** Longest wait for another process's refresh (its token call is bounded at 30 s). */
export const LOCK_WAIT_MS = 45_000;

export interface AccessOptions {
  env: NodeJS.ProcessEnv;
  /** The configured account (lfs-bridge.account); needed only when several are logged in. */
  account?: string;
  /** The server refused the token (Dropbox 401 expired_access_token): get a new one. */
  forceRefresh?: boolean;
  /**
   * With forceRefresh: the token the server refused. A stored token that differs from it was refreshed by another
   * process meanwhile and is used without refreshing again. Defaults to the token this process last handed out.
   */
  rejected?: string;
  /** --insecure-storage */
  insecure?: boolean;
}

export interface AccessToken {
  token: string;
  account: string;
}

/** Tokens this process handed out, by provider:account@endpoint: the agent asks per request, the keychain once. */
const cache = new Map<string, { token: string; expiresAt: number }>();
/** The account chosen when none is configured, by provider@endpoint (listing the keychain costs a D-Bus round trip). */
const chosen = new Map<string, string>();

/** Forget the in-process cache (logout, tests). */
export function forgetCachedTokens(provider?: OAuthProvider, account?: string): void {
  for (const k of [...chosen.keys()]) if (!provider || k.startsWith(`${provider}@`)) chosen.delete(k);
  const prefix = provider ? `${provider}:${account ? `${account}@` : ''}` : '';
  for (const k of [...cache.keys()]) if (k.startsWith(prefix)) cache.delete(k);
}

export const refreshLockPath = (env: NodeJS.ProcessEnv, provider: OAuthProvider, account: string): string =>
  join(
    stateDir(env),
    'locks',
    `token-${provider}-${createHash('sha256').update(account).digest('hex').slice(0, 16)}.lock`,
  );

export async function getAccessToken(provider: OAuthProvider, o: AccessOptions): Promise<AccessToken> {
  const env = o.env;
  const log = createLogger('oauth', env);
  const fromEnv = env[envName(provider, 'TOKEN')];
  if (fromEnv) {
    maskInLogs(fromEnv);
    if (o.forceRefresh) {
      throw authError(
        `[${provider}] the access token in ${envName(provider, 'TOKEN')} was refused (expired or revoked); it is never refreshed: set a fresh one, or unset it and run lfs-bridge login ${provider}`,
      );
    }
    return { token: fromEnv, account: o.account ?? 'env' };
  }

  const store = await openStore({ env, insecure: o.insecure });
  const endpoint = endpointFor(provider, env);
  const at = `${provider}@${endpoint ?? ''}`;
  const account = o.account ?? chosen.get(at) ?? chooseAccount(provider, await candidates(store, provider, endpoint));
  if (!o.account) chosen.set(at, account);
  const key = `${provider}:${account}@${endpoint ?? ''}`;
  const memo = cache.get(key);
  if (!o.forceRefresh && memo && memo.expiresAt - Date.now() >= FRESH_MS) return { token: memo.token, account };

  const notLoggedIn = () =>
    authError(`not logged in to ${providerTitle[provider]} as ${account}: run lfs-bridge login ${provider}`);
  const before = await readToken(store, provider, account);
  if (!before) {
    if (o.account)
      chooseAccount(
        provider,
        (await accountsIn(store, provider)).map((a) => a.account),
        o.account,
      );
    throw notLoggedIn();
  }
  await checkBound(provider, before, endpoint);
  const rejected = o.forceRefresh ? (o.rejected ?? memo?.token ?? before.accessToken) : undefined;
  const usable = (t: TokenSet) => t.validFor(FRESH_MS) && t.accessToken !== rejected;
  const hand = (t: TokenSet): AccessToken => {
    cache.set(key, { token: t.accessToken, expiresAt: t.expiresAt });
    return { token: t.accessToken, account };
  };
  if (usable(before)) return hand(before);

  const spec = await specFor(provider);
  const lockPath = refreshLockPath(env, provider, account);
  await mkdir(dirname(lockPath), { recursive: true, mode: 0o700 });
  const lock = await waitLock(lockPath, LOCK_WAIT_MS);
  if (!lock) {
    throw transient(
      `[${provider}] another lfs-bridge process has been refreshing the ${providerTitle[provider]} token for ${LOCK_WAIT_MS / 1000} s (lock ${lockPath})`,
    );
  }
  try {
    const now = await readToken(store, provider, account); // another process may have refreshed meanwhile
    if (!now) throw notLoggedIn();
    await checkBound(provider, now, endpoint);
    if (usable(now)) {
      log.debug(`${provider}:${account}: token refreshed by another process`);
      return hand(now);
    }
    log.debug(`${provider}:${account}: refreshing the access token`);
    const next = now.refreshed(await refreshGrant(spec, now, env));
    await writeToken(store, next); // first: a rotated refresh token must never be lost
    return hand(next);
  } finally {
    await lock.release();
  }
}

/**
 * The logins to choose from when no account is configured: those made under the endpoint in use, when there are
 * any (a login of the real provider beside one made under a test override is no ambiguity); else all of them, so
 * that the only one, made elsewhere, is refused with the reason (checkBound).
 */
async function candidates(
  store: Awaited<ReturnType<typeof openStore>>,
  provider: OAuthProvider,
  endpoint: string | undefined,
): Promise<string[]> {
  const all = await accountsIn(store, provider);
  const here = all.filter((a) => (a.endpoint ?? undefined) === endpoint);
  return (here.length ? here : all).map((a) => a.account);
}

/**
 * Tokens go back only to the endpoint they came from (issue: a stray LFS_BRIDGE_<P>_ENDPOINT in a CI file or a
 * direnv must not carry the keychain's refresh token to whatever it names). A record without `endpoint` was made
 * with the provider itself.
 */
async function checkBound(provider: OAuthProvider, t: TokenSet, endpoint: string | undefined): Promise<void> {
  if ((t.endpoint ?? undefined) === endpoint) return;
  const name = endpointVar(provider);
  const title = providerTitle[provider];
  const real = await specFor(provider).then(
    (s) => `${title} (${new URL(s.tokenUrl).origin})`,
    () => title,
  );
  const relogin = `lfs-bridge login ${provider}${t.email && t.account !== t.email ? ` --account ${t.account}` : ''}`;
  if (!t.endpoint) {
    throw authError(
      `logged in to ${real} as ${t.account} but ${name} points to ${endpoint}: log in under that override (${relogin} with it set), or unset it; the stored tokens are never sent there`,
    );
  }
  throw authError(
    endpoint
      ? `the ${title} login ${t.account} was made under ${name}=${t.endpoint} but ${name} points to ${endpoint}: log in under that override (${relogin} with it set); the stored tokens are never sent there`
      : `the ${title} login ${t.account} was made under ${name}=${t.endpoint}, which is not set now: its tokens are never sent to ${real}; run ${relogin} to log in to ${title} itself`,
  );
}
