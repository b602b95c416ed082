/**
 * Where git-lfs keeps objects for the repository at cwd: lfs.storage from git config
 * (relative → joined to the common dir), else <common dir>/lfs. Never ./.git, never --git-path (wrong in linked
 * worktrees). Found on first use, then cached by the caller.
 * See docs/protocol.md "Where files go".
 */
import { isAbsolute, join, resolve } from 'node:path';
import { configError } from '../errors.js';
import { git } from '../git.js';

export interface LfsPaths {
  lfsDir: string;
  /** Our resumable partials: never in <lfs>/tmp, which git-lfs sweeps. */
  incomplete: string;
  /** Hand-over files for `complete.path`: same filesystem as <lfs>/objects, so git-lfs can rename them. */
  tmp: string;
}

export async function findLfsPaths(cwd: string = process.cwd()): Promise<LfsPaths> {
  const common = await git(['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd });
  if (common.code !== 0) throw configError(`not inside a git repository (${cwd})`);
  const commonDir = common.stdout.trim();
  const storage = await git(['config', '--get', 'lfs.storage'], { cwd });
  const configured = storage.code === 0 ? storage.stdout.trim() : '';
  const lfsDir = configured
    ? isAbsolute(configured)
      ? configured
      : resolve(commonDir, configured)
    : join(commonDir, 'lfs');
  return { lfsDir, incomplete: join(lfsDir, 'incomplete', 'lfs-bridge'), tmp: join(lfsDir, 'tmp') };
}
