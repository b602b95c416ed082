/**
 * Finishing a clone whose checkout failed. A plain `git clone` on a machine without the agent stops at the first
 * LFS file ("Clone succeeded, but checkout failed"), leaving HEAD set, the index EMPTY and a few files in the work
 * tree. `git lfs pull` there cannot update the index, so every file stays staged as deleted; instead, once the agent
 * is wired: the index from HEAD (work tree untouched), the objects fetched, and only the missing files checked out,
 * so nothing a person changed meanwhile is overwritten and `git status` ends clean.
 */
import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { configError } from '../errors.js';
import { git, gitOk } from '../git.js';

/** Entries in the index, from its header ("DIRC", version, count); 0 when there is no index file. */
async function indexEntries(top: string): Promise<number> {
  const path = (await gitOk(['rev-parse', '--path-format=absolute', '--git-path', 'index'], { cwd: top })).trim();
  const fh = await open(path, 'r').catch(() => null);
  if (!fh) return 0;
  try {
    const head = Buffer.alloc(12);
    const { bytesRead } = await fh.read(head, 0, 12, 0);
    if (bytesRead < 12 || head.toString('latin1', 0, 4) !== 'DIRC') return -1; // not an index we know: hands off
    return head.readUInt32BE(8);
  } finally {
    await fh.close();
  }
}

/** HEAD names a commit with files, and the index holds none of them: what a failed clone checkout leaves. */
export async function checkoutFailed(top: string): Promise<boolean> {
  const tree = await git(['ls-tree', '--name-only', 'HEAD'], { cwd: top });
  if (tree.code !== 0 || !tree.stdout.trim()) return false;
  if ((await indexEntries(top)) !== 0) return false;
  // A split index keeps its entries in a shared file: ask git (in the state we look for, the answer is empty).
  const files = await git(['ls-files'], { cwd: top });
  return files.code === 0 && files.stdout === '';
}

/** Returns the number of files checked out, 0 when the repository was not in that state. */
export async function finishFailedCheckout(top: string): Promise<number> {
  if (!(await checkoutFailed(top))) return 0;
  await gitOk(['reset', '-q'], { cwd: top });
  const fetch = await gitShowingProgress(['lfs', 'fetch'], top);
  if (fetch.code !== 0) {
    throw configError(
      `the repository is set up, but fetching its LFS files failed: ${lastLines(fetch.stderr)} — fix that, then run git checkout -- :/`,
    );
  }
  const missing = (await gitOk(['ls-files', '-z', '--deleted'], { cwd: top })).split('\0').filter(Boolean);
  // Literal paths, in slices that stay far below any argv limit.
  for (let i = 0; i < missing.length; i += 500) {
    const r = await git(['checkout', '--', ...missing.slice(i, i + 500)], {
      cwd: top,
      env: { ...process.env, GIT_LITERAL_PATHSPECS: '1' },
    });
    if (r.code !== 0) {
      throw configError(
        `the repository is set up, but checking out its files failed: ${lastLines(r.stderr)} — fix that, then run git checkout -- :/`,
      );
    }
  }
  return missing.length;
}

/** git with its stderr (git-lfs's progress) passed on to ours as it comes, and kept for the error message. */
function gitShowingProgress(args: string[], cwd: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      process.stderr.write(b);
      stderr = (stderr + b.toString('utf8')).slice(-8192);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stderr }));
  });
}

const lastLines = (s: string) => s.trim().split('\n').slice(-5).join('; ') || 'no message';
