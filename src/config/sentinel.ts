/**
 * The sentinel LFS URL: `https://lfs-bridge.invalid/<provider>/<root, percent-encoded>`. `setup --shared` commits it
 * as `lfs.url` in `.lfsconfig` (a key git-lfs accepts from there), and `lfs-bridge install` points a URL-scoped
 * `lfs.<base>.standalonetransferagent` at the agent, so a plain `git clone` reaches the agent and nothing else ever
 * does. A host under `.invalid` never resolves (RFC 6761): where the agent is not installed, git-lfs fails to
 * connect instead of sending objects to a real server.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { git } from '../git.js';
import { isProviderName, type ProviderName, providerEntry } from '../providers/registry.js';

export const SENTINEL_BASE = 'https://lfs-bridge.invalid/';

export interface Sentinel {
  provider: ProviderName;
  /** The root as recorded (a relative `local` root is relative to the work tree's top). */
  root: string;
}

export function sentinelUrl(provider: ProviderName, root: string): string {
  return `${SENTINEL_BASE}${provider}/${encodeURIComponent(root)}`;
}

/** Provider and root from a sentinel URL; undefined for any other URL (a real LFS server). */
export function parseSentinel(url: string): Sentinel | undefined {
  if (!url.startsWith(SENTINEL_BASE)) return undefined;
  const m = /^([a-z]+)\/([^/?#]+)\/*$/.exec(url.slice(SENTINEL_BASE.length));
  if (!m || !isProviderName(m[1])) return undefined;
  let root: string;
  try {
    root = decodeURIComponent(m[2]);
  } catch {
    return undefined;
  }
  return root ? { provider: m[1], root } : undefined;
}

/**
 * The repository's `lfs.url` where git-lfs looks for it: git config first, then `.lfsconfig` in the work tree, in
 * the index, in HEAD (during a clone's checkout the file may not be written yet, and the index is being rebuilt:
 * git-lfs 3.3 reads HEAD then, and so do we). A relative local root is resolved against the work tree's top.
 */
export async function readSentinel(cwd?: string): Promise<(Sentinel & { url: string }) | undefined> {
  const get = async (args: string[]) => {
    const r = await git(['config', ...args, '--get', 'lfs.url'], { cwd });
    return r.code === 0 ? r.stdout.trim() : undefined;
  };
  const topR = await git(['rev-parse', '--show-toplevel'], { cwd });
  const top = topR.code === 0 ? topR.stdout.trim() : undefined;
  let url = await get([]);
  if (url === undefined && top && existsSync(join(top, '.lfsconfig')))
    url = await get(['--file', join(top, '.lfsconfig')]);
  if (url === undefined && top)
    url = (await get(['--blob', ':.lfsconfig'])) ?? (await get(['--blob', 'HEAD:.lfsconfig']));
  const s = url ? parseSentinel(url) : undefined;
  if (!s || !url) return undefined;
  if (providerEntry(s.provider).root === 'folder' && !isAbsolute(s.root) && top) s.root = resolve(top, s.root);
  return { ...s, url };
}
