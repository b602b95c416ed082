/** Provider registry: names map to lazy imports, so `transfer` loads one provider and its SDK only. */
import type { ProviderName } from '../config/index.js';
import { configError } from '../errors.js';
import type { ProviderModule } from './types.js';

/** The providers this build has: a provider lands by adding its line here. */
const loaders: Partial<Record<ProviderName, () => Promise<ProviderModule>>> = {
  local: () => import('./local/index.js').then((m) => m.default),
  dropbox: () => import('./dropbox/index.js').then((m) => m.default),
};

/** What `--provider` accepts and help lists, derived from the loaders above. */
export const availableProviders = Object.keys(loaders) as ProviderName[];

export function loadProviderModule(name: ProviderName): Promise<ProviderModule> {
  const load = loaders[name];
  if (!load) {
    return Promise.reject(
      configError(`the ${name} provider is not in this build`, `use one of ${availableProviders.join(', ')}`),
    );
  }
  return load();
}

/** Stored layout, the same as .git/lfs/objects: <oid[0:2]>/<oid[2:4]>/<oid>. */
export const objectKey = (oid: string): string[] => [oid.slice(0, 2), oid.slice(2, 4), oid];
