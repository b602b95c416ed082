/**
 * Dropbox API v2 as lfs-bridge primitives: stat by path with content_hash, files/upload for
 * small objects, upload sessions (start / append_v2 / finish, never closed early so the offset can always be
 * queried), and ranged reads of temporary links (no bearer, parallel-friendly; derived afresh, never persisted).
 * Plain streaming HTTP throughout: the SDK buffers downloads whole and needs its fetch rewritten for our endpoint
 * and proxy handling, for four small RPC routes.
 * See docs/providers.md "Dropbox".
 */
import { configError } from '../../errors.js';
import type { Capabilities, ProviderContext, ProviderModule } from '../types.js';
import { sharedRoot } from './team.js';

const MiB = 1024 * 1024;

export const caps = {
  chunkAlign: 4 * MiB, // content_hash blocks, and the concurrent-session rule
  chunkMax: 148 * MiB, // a request carries at most 150 MiB
  chunkDefault: 48 * MiB, // rclone measured ≈ 91 % of top speed at 48 MiB (128 MiB = 100 %), and a lost chunk costs < 48 MiB
  simpleUploadMax: 8 * MiB, // one request, no session; re-sent whole after a failure, so keep it small
  serverHash: 'dropbox',
  sessionsSurviveRestart: true,
  sessionFromOid: false,
  sessionLifetimeMs: 7 * 24 * 3600_000, // upload sessions live 7 days
  parallelRanges: true,
  concurrentSessions: true,
  needsKeychain: true,
  // "The maximum size of a file one can upload to an upload session is 350 GB" (files.stone, upload_session/*;
  // beyond it appends fail with too_large). Some newer error texts say 2^41 − 2^22 B: the smaller one is kept.
  maxObjectSize: 350e9,
} as const satisfies Capabilities;

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
