/**
 * Logged-in accounts: one keychain record per provider and account, at `token:<provider>:<account>`. The account
 * is the user's email unless `login --account NAME` chose another name.
 * See docs/architecture.md "Secrets and logging".
 */
import { authError, configError } from '../errors.js';
import { openSecretStore, type SecretStore } from '../keychain/index.js';
import type { OAuthProvider } from './spec.js';
import { TokenSet } from './tokens.js';

export const tokenKey = (provider: OAuthProvider, account: string): string => `token:${provider}:${account}`;

export const providerTitle: Record<OAuthProvider, string> = {
  dropbox: 'Dropbox',
  gdrive: 'Google Drive',
  onedrive: 'OneDrive',
};

export interface AccountInfo {
  provider: OAuthProvider;
  account: string;
  email?: string;
  displayName?: string;
  /** The LFS_BRIDGE_<P>_ENDPOINT override the login was made under. */
  endpoint?: string;
}

export interface StoreOptions {
  env?: NodeJS.ProcessEnv;
  /** --insecure-storage */
  insecure?: boolean;
}

export const openStore = (o: StoreOptions): Promise<SecretStore> =>
  openSecretStore({ env: o.env ?? process.env, insecure: o.insecure });

/** A name usable inside `token:<provider>:<account>`. */
export function checkAccountName(name: string): string {
  if (!name || /[:\s]/.test(name) || name.length > 200) {
    throw configError(`account name "${name}" must be non-empty, without spaces or ":"`);
  }
  return name;
}

export async function readToken(
  store: SecretStore,
  provider: OAuthProvider,
  account: string,
): Promise<TokenSet | null> {
  const json = await store.get(tokenKey(provider, account));
  return json === null ? null : TokenSet.fromRecord(provider, account, json);
}

export async function writeToken(store: SecretStore, set: TokenSet): Promise<void> {
  await store.set(tokenKey(set.provider, set.account), set.toRecord());
}

export async function accountsIn(store: SecretStore, provider: OAuthProvider): Promise<AccountInfo[]> {
  const prefix = tokenKey(provider, '');
  const out: AccountInfo[] = [];
  for (const { account: key, secret } of await store.list(prefix)) {
    const account = key.slice(prefix.length);
    let info: AccountInfo = { provider, account };
    try {
      const t = TokenSet.fromRecord(provider, account, secret);
      info = { provider, account, email: t.email, displayName: t.displayName, endpoint: t.endpoint };
    } catch {
      // unreadable record: still listed, so logout can remove it
    }
    out.push(info);
  }
  return out.sort((a, b) => a.account.localeCompare(b.account));
}

/** The accounts logged in to `provider`, without secrets. */
export async function listAccounts(provider: OAuthProvider, o: StoreOptions = {}): Promise<AccountInfo[]> {
  return accountsIn(await openStore(o), provider);
}

/**
 * Which account to use: the only one; or, with several, the configured one (`lfs-bridge.account`), which must
 * exist. Throws Auth (none, or the configured one missing) or Config (several, none chosen) naming the fix.
 */
export function chooseAccount(provider: OAuthProvider, accounts: string[], configured?: string): string {
  const title = providerTitle[provider];
  if (configured) {
    if (accounts.includes(configured)) return configured;
    const others = accounts.length ? ` (logged in: ${accounts.join(', ')})` : '';
    throw authError(
      `not logged in to ${title} as ${configured}${others}: run lfs-bridge login ${provider} --account ${configured}, or set lfs-bridge.account to a logged-in account`,
    );
  }
  if (accounts.length === 1) return accounts[0]!;
  if (accounts.length === 0) throw authError(`not logged in to ${title}: run lfs-bridge login ${provider}`);
  throw configError(
    `several ${title} accounts are logged in (${accounts.join(', ')}): choose one with git config lfs-bridge.account <account> (or lfs-bridge setup --account <account>)`,
  );
}

export async function selectAccount(
  provider: OAuthProvider,
  configured?: string,
  o: StoreOptions = {},
): Promise<string> {
  const accounts = await listAccounts(provider, o);
  return chooseAccount(
    provider,
    accounts.map((a) => a.account),
    configured,
  );
}
