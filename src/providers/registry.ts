/**
 * The provider registry: the one list of providers this build has, as plain data (this file imports nothing, so
 * config and the provider contract may read it). A provider lands as a folder `src/providers/<name>/` — `index.ts`
 * exporting its module by default and, with a login, `auth.ts` exporting its `oauthSpec` — plus one line here
 * (docs/providers.md "Adding a provider"). `ProviderName`, what `--provider` and `login` accept, and the names a
 * sentinel URL may carry all come from it; providers/index.ts loads the modules on first use.
 */
export interface RegistryEntry {
  /** Needs the OS keychain (tokens, upload-session records); the module's caps say the same. */
  readonly needsKeychain: boolean;
  /**
   * What a root is: a folder on this machine (relative to the work tree's top when relative) or a path inside the
   * provider's storage (`/lfs/my-repo`).
   */
  readonly root: 'folder' | 'path';
  /**
   * Bytes come and go through this process's sockets: a large object's writes and hashes go to the disk thread,
   * started early (bridge/work.ts). A store on this machine copies in the kernel and hashes in this thread instead.
   */
  readonly network: boolean;
  /** Has an OAuth 2 login (`<name>/auth.ts` exports `oauthSpec`). */
  readonly login: boolean;
}

const registry = {
  local: { needsKeychain: false, root: 'folder', network: false, login: false },
  dropbox: { needsKeychain: true, root: 'path', network: true, login: true },
} as const satisfies Record<string, RegistryEntry>;

export type ProviderName = keyof typeof registry;

/** What `--provider` accepts and help lists. */
export const availableProviders = Object.keys(registry) as ProviderName[];
export const isProviderName = (s: string): s is ProviderName => Object.hasOwn(registry, s);
export const providerEntry = (name: ProviderName): RegistryEntry => registry[name];
/** The providers with a login (`login` and `logout` accept these). */
export const loginProviders = availableProviders.filter((n) => registry[n].login);
/** Named in the docs, not in this build yet: "not in this build" rather than "unknown". */
export const plannedProviders: readonly string[] = ['gdrive', 'onedrive'];
