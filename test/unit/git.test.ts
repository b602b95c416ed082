import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { git, gitConfigMap, gitOk } from '../../src/git.js';

describe('git', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lfsb-git-'));
    execFileSync('git', ['init', '-q', dir]);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('git() returns code and output without throwing on failure', async () => {
    const ok = await git(['rev-parse', '--is-inside-work-tree'], { cwd: dir });
    assert.deepEqual([ok.code, ok.stdout.trim()], [0, 'true']);
    const bad = await git(['config', '--get', 'no.such.key'], { cwd: dir });
    assert.equal(bad.code, 1);
  });

  it("gitOk() throws with git's message", async () => {
    await assert.rejects(gitOk(['frobnicate'], { cwd: dir }), /git frobnicate failed: .*not a git command/);
  });

  it('gitConfigMap: lowercased keys, values with spaces and newlines, no match → empty', async () => {
    execFileSync('git', ['config', 'lfs-bridge.Root', '/a b'], { cwd: dir });
    execFileSync('git', ['config', 'lfs-bridge.note', 'line1\nline2'], { cwd: dir });
    execFileSync('git', ['config', 'other.key', 'x'], { cwd: dir });
    const m = await gitConfigMap('^lfs-bridge\\.', dir);
    assert.deepEqual([...m.entries()].sort(), [
      ['lfs-bridge.note', 'line1\nline2'],
      ['lfs-bridge.root', '/a b'],
    ]);
    assert.equal((await gitConfigMap('^nothing\\.', dir)).size, 0);
  });

  it('gitConfigMap reads a given file (e.g. .lfsconfig)', async () => {
    const f = join(dir, '.lfsconfig');
    await writeFile(f, '[lfs]\n\turl = https://example.com/lfs\n');
    assert.deepEqual([...(await gitConfigMap('^lfs\\.', dir, f))], [['lfs.url', 'https://example.com/lfs']]);
  });
});
