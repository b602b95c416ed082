/**
 * Team folders. A shared folder sits at a different path in each member's Dropbox, so a member path in the team
 * file would point the others elsewhere. Dropbox names it by its namespace instead (`ns:<shared_folder_id>/…`, a
 * path form every API call accepts): `setup` turns a member path inside a shared folder into that form.
 * Needs a "Full Dropbox" app; an App-folder app sees only its own folder.
 */

import type { Metadata } from './api.js';
import { DropboxError } from './errors.js';

export type MetadataLookup = (path: string) => Promise<(Metadata & { shared_folder_id?: string }) | null>;

/** `ns:<id>/rest` for a root inside a shared folder; the root unchanged otherwise. */
export async function sharedRoot(
  root: string,
  lookup: MetadataLookup,
): Promise<{ root: string; sharedFolder?: string }> {
  if (!root.startsWith('/') || root === '/') return { root };
  const parts = root.split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const prefix = `/${parts.slice(0, i).join('/')}`;
    let meta: Awaited<ReturnType<MetadataLookup>>;
    try {
      meta = await lookup(prefix);
    } catch (e) {
      if (e instanceof DropboxError && e.kind === 'NotFound') return { root }; // not created yet: a plain path
      throw e;
    }
    if (!meta) return { root };
    if (meta['.tag'] === 'folder' && meta.shared_folder_id) {
      const rest = parts.slice(i).join('/');
      return { root: `ns:${meta.shared_folder_id}${rest ? `/${rest}` : ''}`, sharedFolder: prefix };
    }
  }
  return { root };
}
