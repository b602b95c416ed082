/**
 * `lfs-bridge logout <provider>`: revoke at the provider where it can (Dropbox: auth/token/revoke, which also ends
 * the refresh token), then delete the keychain record. A revocation that fails does not keep the record: the
 * user asked to be logged out here.
 */
import { configError } from '../errors.js';
import { createLogger } from '../log.js';
import { forgetCachedTokens, getAccessToken } from './access.js';
import { accountsIn, chooseAccount, openStore, readToken, tokenKey } from './accounts.js';
import { revokeToken } from './grants.js';
import { envName, type OAuthProvider, specFor } from './spec.js';

export interface LogoutOptions {
  env: NodeJS.ProcessEnv;
  /** --account; default: the only account */
  account?: string;
  /** --all: every account of the provider */
  all?: boolean;
  insecure?: boolean;
}

export interface LogoutResult {
  provider: OAuthProvider;
  accounts: {
    account: string;
    /** The provider confirmed the tokens are dead (or already were). */
    revoked: boolean;
    /** Why revocation was skipped or failed. */
    note?: string;
  }[];
}

export async function logout(provider: OAuthProvider, o: LogoutOptions): Promise<LogoutResult> {
  const { env } = o;
  const log = createLogger('oauth', env);
  const spec = await specFor(provider);
  const store = await openStore({ env, insecure: o.insecure });
  const all = (await accountsIn(store, provider)).map((a) => a.account);
  let targets: string[];
  if (o.all) {
    if (o.account) throw configError('--all and --account exclude each other');
    targets = all;
  } else if (!all.length && !o.account) {
    targets = [];
  } else {
    targets = [chooseAccount(provider, all, o.account)];
  }
  const result: LogoutResult = { provider, accounts: [] };
  for (const account of targets) {
    const entry: LogoutResult['accounts'][number] = { account, revoked: false };
    try {
      const stored = await readToken(store, provider, account);
      if (!stored) {
        entry.note = 'no stored tokens';
      } else if (!spec.revoke) {
        entry.note = `${spec.title} has no token revocation: the tokens were only deleted here`;
      } else {
        // An expired access token cannot revoke itself: refresh it first (under the same lock as the agents), and
        // revoke the stored login, not an LFS_BRIDGE_<P>_TOKEN from the environment.
        const keychainOnly = { ...env, [envName(provider, 'TOKEN')]: undefined };
        const { token } = await getAccessToken(provider, { env: keychainOnly, account, insecure: o.insecure });
        entry.revoked =
          typeof spec.revoke === 'string'
            ? await revokeToken(spec, env, { clientId: stored.clientId, clientSecret: stored.clientSecret }, token)
            : await spec.revoke(token, env);
        if (!entry.revoked) entry.note = 'the tokens were already invalid';
      }
    } catch (e) {
      const msg = (e as Error).message;
      entry.note = /login expired or revoked/.test(msg) ? 'the tokens were already invalid' : `not revoked: ${msg}`;
      log.debug(`${provider}:${account}: revocation: ${msg}`);
    }
    await store.delete(tokenKey(provider, account));
    forgetCachedTokens(provider, account);
    result.accounts.push(entry);
  }
  return result;
}
