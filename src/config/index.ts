/**
 * The bridge's settings, read from the repository's git config (written by `lfs-bridge setup`). Of `.lfsconfig`
 * only its `lfs.url` counts, and only as the sentinel URL (sentinel.ts), when git config names no provider: that
 * URL is also what sends git-lfs to the agent at all, so it cannot redirect objects anywhere git-lfs would not go.
 */
import { configError } from '../errors.js';
import { gitConfigMap } from '../git.js';
import { availableProviders, isProviderName, type ProviderName, plannedProviders } from '../providers/registry.js';
import { readSentinel } from './sentinel.js';
import { parseSize } from './size.js';

/** The provider names come from the registry (providers/index.ts). */
export type { ProviderName };

export const DEFAULT_DOWNLOAD_STREAMS = 4;
export const DEFAULT_UPLOAD_STREAMS = 4;

export interface BridgeConfig {
  provider: ProviderName;
  root: string;
  /** Upload chunk size in bytes, before rounding to the provider's alignment. */
  chunkSize?: number;
  downloadStreams: number;
  /** Most pieces of one upload in flight at once, where the provider takes pieces in any order (Dropbox). */
  uploadStreams: number;
  /** Bandwidth limit per process, bytes per second. */
  maxRate?: number;
  account?: string;
  /** Every lfs-bridge.* key as git returned it (lowercased), for provider-specific keys. */
  raw: Map<string, string>;
}

/**
 * Reads lfs-bridge.* for the repository at cwd; without a provider there, provider and root come from a sentinel
 * `lfs.url` (a plain clone on a machine where `lfs-bridge install` ran). Throws a Config error naming the fix when
 * neither is there.
 */
export async function loadConfig(cwd?: string): Promise<BridgeConfig> {
  const raw = await gitConfigMap('^lfs-bridge\\.', cwd);
  if (!raw.get('lfs-bridge.provider')) {
    const s = await readSentinel(cwd);
    if (s) {
      raw.set('lfs-bridge.provider', s.provider);
      raw.set('lfs-bridge.root', s.root);
    }
  }
  return parseConfig(raw);
}

export function parseConfig(raw: Map<string, string>): BridgeConfig {
  const provider = raw.get('lfs-bridge.provider') ?? '';
  if (!provider)
    throw configError('this repository is not set up', 'run lfs-bridge setup --provider <name> --root <root>');
  if (!isProviderName(provider)) {
    const planned = plannedProviders.includes(provider);
    throw configError(
      planned
        ? `the ${provider} provider in lfs-bridge.provider is not in this build`
        : `unknown provider "${provider}" in lfs-bridge.provider`,
      `use one of ${availableProviders.join(', ')}`,
    );
  }
  const root = raw.get('lfs-bridge.root') ?? '';
  if (!root)
    throw configError('lfs-bridge.root is not set', `run lfs-bridge setup --provider ${provider} --root <root>`);
  const size = (key: string) => {
    const v = raw.get(key);
    if (v === undefined || v === '') return undefined;
    try {
      return parseSize(v, key);
    } catch (e) {
      throw configError((e as Error).message);
    }
  };
  const streams = (key: string, dflt: number) => {
    const v = raw.get(key);
    const n = v ? Number(v) : dflt;
    if (!Number.isInteger(n) || n < 1 || n > 64)
      throw configError(`${key} must be a whole number from 1 to 64, got "${v}"`);
    return n;
  };
  const downloadStreams = streams('lfs-bridge.downloadstreams', DEFAULT_DOWNLOAD_STREAMS);
  const uploadStreams = streams('lfs-bridge.uploadstreams', DEFAULT_UPLOAD_STREAMS);
  const chunkSize = size('lfs-bridge.chunksize');
  if (chunkSize === 0) throw configError('lfs-bridge.chunksize must be more than 0');
  const maxRate = size('lfs-bridge.maxrate') || undefined;
  return {
    provider,
    root,
    chunkSize,
    downloadStreams,
    uploadStreams,
    maxRate,
    account: raw.get('lfs-bridge.account') || undefined,
    raw,
  };
}
