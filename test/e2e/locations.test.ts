/**
 * Where things go: commands run from a subdirectory, a linked
 * worktree, and lfs.storage (absolute and relative) — objects land where `git lfs env` says LocalMediaDir is, and
 * the agent's own files sit next to it.
 * See docs/protocol.md "Where files go", S11.
 */
import assert from 'node:assert/strict';
import { join, relative } from 'node:path';
import {
  exists,
  KiB,
  ls,
  MiB,
  type Obj,
  objectPath,
  sha256File,
  snapshot,
  writeRandomFiles,
} from '../helpers/files.js';
import { describeRun } from '../helpers/run.js';
import { Sandbox } from '../helpers/sandbox.js';

describe('e2e: locations', function () {
  this.timeout(90_000);
  let sb: Sandbox;
  let remote: string;
  let store: string;
  let work: string;
  let objs: Obj[];

  before(async () => {
    sb = await Sandbox.create('locations');
    remote = await sb.remote();
    store = await sb.store();
    work = await sb.workRepo('work', remote, store);
    objs = await writeRandomFiles(join(work, 'assets', 'deep'), [10, 3 * KiB, MiB, 5 * MiB]);
    await sb.commitAll(work, 'assets');
    await sb.gitOk(work, ['push', '-q', '--no-verify', 'origin', 'main']); // refs only: the objects go below
    // The clones below fetch from the store whether or not the subdirectory push test ran first.
    const seed = await sb.git(work, ['lfs', 'push', '--all', 'origin']);
    assert.equal(seed.code, 0, describeRun('git lfs push --all', seed));
  });
  after(async () => sb?.cleanup());

  /** Checks every object is in `objects`, byte-equal. */
  const inObjects = async (objects: string) => {
    for (const o of objs) assert.equal(await sha256File(objectPath(objects, o.oid)), o.oid, `${o.oid} in ${objects}`);
  };

  it('git lfs push from a subdirectory (cwd = the subdirectory) stores every object', async () => {
    // Into a second, empty store (the first was seeded from the top); --all because origin/main already has the
    // commit (refs went without the hook), which would exclude its objects.
    const store2 = await sb.store('store-subdir');
    await sb.gitOk(work, ['config', 'lfs-bridge.root', store2]);
    try {
      const r = await sb.git(join(work, 'assets', 'deep'), ['lfs', 'push', '--all', 'origin']);
      assert.equal(r.code, 0, describeRun('git lfs push', r));
    } finally {
      await sb.gitOk(work, ['config', 'lfs-bridge.root', store]);
    }
    for (const o of objs) assert.equal(await sha256File(objectPath(store2, o.oid)), o.oid);
    assert.equal(await exists(join(work, 'assets', 'deep', '.git')), false);
  });

  it('git lfs fetch from a subdirectory of a fresh clone fills <common dir>/lfs/objects', async () => {
    const clone = await sb.clone(remote, 'clone-subdir', store);
    const cwd = join(clone, 'assets', 'deep');
    const env = await sb.lfsEnv(cwd);
    assert.equal(env.get('LocalMediaDir'), join(clone, '.git', 'lfs', 'objects'));
    const r = await sb.git(cwd, ['lfs', 'fetch']);
    assert.equal(r.code, 0, describeRun('git lfs fetch', r));
    await inObjects(join(clone, '.git', 'lfs', 'objects'));
    assert.deepEqual(await ls(join(cwd, '.git')), []);
  });

  it('a linked worktree: git lfs fetch there puts objects in the common dir, not .git/worktrees/<wt>/lfs', async () => {
    const clone = await sb.clone(remote, 'clone-wt', store);
    const wt = sb.path('linked-wt');
    await sb.gitOk(clone, ['worktree', 'add', '-q', '--detach', wt, 'HEAD'], { GIT_LFS_SKIP_SMUDGE: '1' });
    const env = await sb.lfsEnv(wt);
    const media = join(clone, '.git', 'lfs', 'objects');
    assert.equal(env.get('LocalMediaDir'), media);
    const r = await sb.git(wt, ['lfs', 'fetch']);
    assert.equal(r.code, 0, describeRun('git lfs fetch (linked worktree)', r));
    await inObjects(media);
    assert.equal(await exists(join(clone, '.git', 'worktrees', 'linked-wt', 'lfs')), false, 'per-worktree lfs dir');
    const co = await sb.git(wt, ['lfs', 'checkout']);
    assert.equal(co.code, 0, describeRun('git lfs checkout', co));
    for (const o of objs) assert.equal(await sha256File(join(wt, relative(work, o.path))), o.oid);
  });

  for (const kind of ['absolute', 'relative'] as const) {
    it(`lfs.storage (${kind}): objects land in git lfs env's LocalMediaDir, the agent's files next to it`, async () => {
      const clone = await sb.clone(remote, `clone-storage-${kind}`, store);
      const value = kind === 'absolute' ? sb.path(`elsewhere-${kind}`) : 'custom-lfs';
      await sb.gitOk(clone, ['config', 'lfs.storage', value]);
      const env = await sb.lfsEnv(clone);
      const media = env.get('LocalMediaDir') as string;
      const expected = kind === 'absolute' ? join(value, 'objects') : join(clone, '.git', value, 'objects');
      assert.equal(media, expected, 'git lfs env LocalMediaDir');
      const r = await sb.git(join(clone, 'assets'), ['lfs', 'pull']);
      assert.equal(r.code, 0, describeRun('git lfs pull', r));
      await inObjects(media);
      for (const o of objs) assert.equal(await sha256File(join(clone, relative(work, o.path))), o.oid);
      // Our partial/hand-over dirs follow lfs.storage; nothing went to the default place.
      const lfsDir = join(media, '..');
      assert.ok(await exists(join(lfsDir, 'incomplete', 'lfs-bridge')), 'no incomplete/lfs-bridge next to objects/');
      // (git-lfs made .git/lfs/objects itself during the clone, before lfs.storage was set: it stays empty.)
      assert.equal((await snapshot(join(clone, '.git', 'lfs', 'objects'))).size, 0);
      assert.equal(await exists(join(clone, '.git', 'lfs', 'incomplete')), false);
    });
  }
});
