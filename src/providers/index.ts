/**
 * Loads a provider of the registry (registry.ts) on first use: `transfer` loads one provider and its SDK only.
 * Also the source of OAuth specs for src/oauth, which never imports a provider.
 */
import { configError } from '../errors.js';
import { type OAuthSpec, useSpecSource } from '../oauth/spec.js';
import { availableProviders, isProviderName, plannedProviders, providerEntry } from './registry.js';
import type { ProviderModule } from './types.js';

export {
  availableProviders,
  isProviderName,
  loginProviders,
  type ProviderName,
  providerEntry,
} from './registry.js';

/** The error for a provider name this build does not have. */
export function unknownProvider(name: string, where = ''): Error {
  return configError(
    plannedProviders.includes(name)
      ? `the ${name} provider is not in this build${where}`
      : `unknown provider "${name}"${where}`,
    `use one of ${availableProviders.join(', ')}`,
  );
}

export async function loadProviderModule(name: string): Promise<ProviderModule> {
  if (!isProviderName(name)) throw unknownProvider(name);
  return ((await import(`./${name}/index.js`)) as { default: ProviderModule }).default;
}

useSpecSource((name) => {
  if (!isProviderName(name) || !providerEntry(name).login) return undefined;
  return import(`./${name}/auth.js`).then((m: { oauthSpec: OAuthSpec }) => m.oauthSpec);
});
