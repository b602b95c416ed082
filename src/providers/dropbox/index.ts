/**
 * Dropbox API v2 as lfs-bridge primitives: stat by path with content_hash, files/upload for
 * small objects, upload sessions (start / append_v2 / finish, never closed early so the offset can always be
 * queried), and ranged reads of temporary links (no bearer, parallel-friendly; derived afresh, never persisted).
 * Plain streaming HTTP throughout: the SDK buffers downloads whole and needs its fetch rewritten for our endpoint
 * and proxy handling, for four small RPC routes.
 * See docs/providers.md "Dropbox".
 */
import { configError } from '../../errors.js';
import type { ProviderContext, ProviderModule } from '../types.js';
import { caps } from './caps.js';
import { sharedRoot } from './team.js';

export { caps };

/** `/path/in/dropbox`, or `ns:<namespace id>[/path]` for a team (shared) folder. */
export function checkRoot(root: string): string {
  if (!root.startsWith('/') && !/^ns:\d+(\/|$)/.test(root)) {
    throw configError(`lfs-bridge.root for dropbox must be a path like /lfs/my-repo or ns:<id>/lfs, got "${root}"`);
  }
  return root.replace(/\/+$/, '') || '/';
}

const rootOf = (ctx: ProviderContext) => checkRoot(ctx.config.root);
const load = () => import('./provider.js');

const dropbox: ProviderModule = {
  caps,
  async checkInit(ctx) {
    rootOf(ctx);
  },
  async create(ctx) {
    return (await load()).connect({ env: ctx.env, account: ctx.config.account }, rootOf(ctx));
  },
  /** The login works (every call below needs it) and the root is a folder, or a path a push will create. */
  async checkStore(ctx) {
    const root = rootOf(ctx);
    const p = await (await load()).connect({ env: ctx.env, account: ctx.config.account }, root);
    if (root === '/') {
      await p.spaceUsage();
      return;
    }
    const meta = await p.metadata(root);
    // Absent is fine: the first push creates it.
    if (meta && meta['.tag'] !== 'folder') throw configError(`${root} in Dropbox is a file, not a folder`);
  },
  async usage(o) {
    const p = await (await load()).connect(o, '/');
    const u = await p.spaceUsage();
    return { used: u.used, allocated: u.allocation?.allocated };
  },
  async resolveRoot(given, o) {
    const root = checkRoot(given);
    const p = await (await load()).connect(o, root);
    const r = await sharedRoot(root, (path) => p.metadata(path));
    return {
      root: r.root,
      notes: r.sharedFolder
        ? [`${r.sharedFolder} is a shared folder: recorded as ${r.root}, the same for every member`]
        : [],
    };
  },
};
export default dropbox;
