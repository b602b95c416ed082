import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, realpath, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findLfsPaths } from '../../../src/bridge/lfsdir.js';
import { BridgeError } from '../../../src/errors.js';

const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, stdio: 'pipe' }).toString();

describe('bridge/lfsdir: findLfsPaths', () => {
  let dir: string;
  let repo: string;
  let saved: NodeJS.ProcessEnv;
  before(() => {
    // git must not read the user's own config (an lfs.storage there would change the answers).
    saved = { ...process.env };
    process.env.GIT_CONFIG_NOSYSTEM = '1';
    process.env.GIT_CONFIG_GLOBAL = '/dev/null';
  });
  after(() => {
    for (const k of ['GIT_CONFIG_NOSYSTEM', 'GIT_CONFIG_GLOBAL']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
  beforeEach(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), 'lfsb-lfsdir-')));
    repo = join(dir, 'repo');
    execFileSync('git', ['init', '-q', repo]);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('defaults to <common dir>/lfs, also from a subdirectory', async () => {
    const p = await findLfsPaths(repo);
    assert.deepEqual(p, {
      lfsDir: join(repo, '.git', 'lfs'),
      incomplete: join(repo, '.git', 'lfs', 'incomplete', 'lfs-bridge'),
      tmp: join(repo, '.git', 'lfs', 'tmp'),
    });
    execFileSync('mkdir', ['-p', join(repo, 'a', 'b')]);
    assert.equal((await findLfsPaths(join(repo, 'a', 'b'))).lfsDir, join(repo, '.git', 'lfs'));
  });

  it('uses an absolute lfs.storage as is', async () => {
    const store = join(dir, 'elsewhere');
    git(repo, 'config', 'lfs.storage', store);
    const p = await findLfsPaths(repo);
    assert.equal(p.lfsDir, store);
    assert.equal(p.incomplete, join(store, 'incomplete', 'lfs-bridge'));
    assert.equal(p.tmp, join(store, 'tmp'));
  });

  it('joins a relative lfs.storage to the common dir', async () => {
    git(repo, 'config', 'lfs.storage', 'big/objects');
    assert.equal((await findLfsPaths(repo)).lfsDir, join(repo, '.git', 'big', 'objects'));
    git(repo, 'config', 'lfs.storage', '../../shared-lfs');
    assert.equal((await findLfsPaths(repo)).lfsDir, join(dir, 'shared-lfs'));
  });

  it('a linked worktree uses the common dir, not .git/worktrees/<wt>', async () => {
    git(repo, '-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '--allow-empty', '-m', 'init');
    const wt = join(dir, 'wt');
    git(repo, 'worktree', 'add', '-q', wt);
    const p = await findLfsPaths(wt);
    assert.equal(p.lfsDir, join(repo, '.git', 'lfs'));
    git(repo, 'config', 'lfs.storage', 'rel');
    assert.equal((await findLfsPaths(wt)).lfsDir, join(repo, '.git', 'rel'));
  });

  it('outside a repository: a Config error', async () => {
    await assert.rejects(
      findLfsPaths(dir),
      (e) => e instanceof BridgeError && e.kind === 'Config' && /not inside a git repository/.test(e.message),
    );
  });
});
