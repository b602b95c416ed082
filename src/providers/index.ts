/** Provider registry: names map to lazy imports, so `transfer` loads one provider and its SDK only. */
import type { ProviderName } from '../config/index.js';
import type { ProviderModule } from './types.js';

const loaders: Record<ProviderName, () => Promise<ProviderModule>> = {
  local: () => import('./local/index.js').then((m) => m.default),
  dropbox: () => import('./dropbox/index.js').then((m) => m.default),
  gdrive: () => Promise.reject(new Error('the gdrive provider is not available in this build yet')),
  onedrive: () => Promise.reject(new Error('the onedrive provider is not available in this build yet')),
};

export function loadProviderModule(name: ProviderName): Promise<ProviderModule> {
  return loaders[name]();
}

/** Stored layout, the same as .git/lfs/objects: <oid[0:2]>/<oid[2:4]>/<oid>. */
export const objectKey = (oid: string): string[] => [oid.slice(0, 2), oid.slice(2, 4), oid];
