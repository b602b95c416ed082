import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkoutFailed } from '../../../src/repo/checkout.js';

describe('repo/checkout: recognising a clone whose checkout failed', () => {
  let dir: string;
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t.invalid', ...args], { cwd: dir }).toString();
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lfsb-checkout-'));
    git('init', '-q', dir);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('a repository with no commit yet: no', async () => {
    assert.equal(await checkoutFailed(dir), false);
  });

  it('a checked-out repository, with a split index too: no', async () => {
    await writeFile(join(dir, 'a'), 'a');
    git('add', 'a');
    git('commit', '-qm', 'a');
    assert.equal(await checkoutFailed(dir), false);
    git('update-index', '--split-index');
    assert.equal(await checkoutFailed(dir), false);
  });

  it('HEAD has files and the index none (what git clone leaves when checkout fails): yes', async () => {
    await writeFile(join(dir, 'a'), 'a');
    git('add', 'a');
    git('commit', '-qm', 'a');
    await unlink(join(dir, '.git', 'index'));
    assert.equal(await checkoutFailed(dir), true);
    git('read-tree', '--empty');
    assert.equal(await checkoutFailed(dir), true);
  });
});
