/**
 * git-lfs's tmp sweep spares our partials, and two git-lfs commands fetching the same
 * objects in one repository at once both succeed.
 * See docs/protocol.md "Where files go", S15 and S13.
 */
import assert from 'node:assert/strict';
import { mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exists, ls, MiB, objectPath, sha256File, writeRandomFiles } from '../helpers/files.js';
import { describeRun } from '../helpers/run.js';
import { Sandbox } from '../helpers/sandbox.js';
import { completes, readTrace } from '../helpers/trace.js';

describe('e2e: sweep and concurrent commands', function () {
  this.timeout(90_000);
  let sb: Sandbox;
  beforeEach(async () => {
    sb = await Sandbox.create('sweep');
  });
  afterEach(async () => sb?.cleanup());

  it('a 2-hour-old .part in <lfs>/incomplete/lfs-bridge survives git lfs ls-files; an old file in <lfs>/tmp does not', async () => {
    const work = await sb.workRepo('work', await sb.remote(), await sb.store());
    await writeRandomFiles(work, [100]);
    await sb.commitAll(work, 'one');
    const lfs = join(work, '.git', 'lfs');
    const oid = 'cd'.repeat(32);
    const part = join(lfs, 'incomplete', 'lfs-bridge', `${oid}.part`);
    const state = join(lfs, 'incomplete', 'lfs-bridge', `${oid}.state`);
    const old = join(lfs, 'tmp', `lfs-bridge-${oid}-1234-abcdef01`);
    await mkdir(join(lfs, 'incomplete', 'lfs-bridge'), { recursive: true });
    await mkdir(join(lfs, 'tmp'), { recursive: true });
    await writeFile(part, Buffer.alloc(4096, 1));
    await writeFile(state, JSON.stringify({ size: 10000 }));
    await writeFile(old, 'abandoned hand-over');
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000);
    for (const p of [part, state, old]) await utimes(p, twoHoursAgo, twoHoursAgo);

    const r = await sb.git(work, ['lfs', 'ls-files']);
    assert.equal(r.code, 0, describeRun('git lfs ls-files', r));
    assert.equal(await exists(old), false, 'git-lfs did not sweep <lfs>/tmp (so this test proves nothing)');
    assert.equal(await exists(part), true, 'the partial was swept');
    assert.equal(await exists(state), true, 'the sidecar was swept');
  });

  it('two parallel git lfs fetch of the same objects in one repository both succeed', async () => {
    const remote = await sb.remote();
    const store = await sb.store();
    const work = await sb.workRepo('work', remote, store);
    const objs = await writeRandomFiles(work, [6 * MiB, 5 * MiB, 4 * MiB, 3 * MiB, MiB, 1000, 10]);
    await sb.commitAll(work, 'objects');
    const push = await sb.git(work, ['push', 'origin', 'main']);
    assert.equal(push.code, 0, describeRun('git push', push));

    const clone = await sb.clone(remote, 'clone', store);
    // Throttled, so that the two commands overlap on the same objects.
    await sb.gitOk(clone, ['config', 'lfs-bridge.maxrate', '4MiB']);
    const traces = [sb.path('a.trace'), sb.path('b.trace')];
    const [a, b] = await Promise.all(
      traces.map((t) => sb.git(clone, ['lfs', 'fetch'], { GIT_TRACE: t, GIT_TRANSFER_TRACE: '1' })),
    );
    assert.equal(a.code, 0, describeRun('first git lfs fetch', a));
    assert.equal(b.code, 0, describeRun('second git lfs fetch', b));
    // Both really downloaded the largest object (neither found it already there).
    for (const t of traces) {
      const done = completes(await readTrace(t)).filter((c) => !c.msg.error && c.msg.path);
      assert.ok(
        done.some((c) => c.msg.oid === objs[0].oid),
        `${t}: the largest object was not downloaded`,
      );
    }
    const objects = join(clone, '.git', 'lfs', 'objects');
    for (const o of objs) assert.equal(await sha256File(objectPath(objects, o.oid)), o.oid);
    const fsck = await sb.git(clone, ['lfs', 'fsck']);
    assert.equal(fsck.code, 0, describeRun('git lfs fsck', fsck));
    const left = (await ls(join(clone, '.git', 'lfs', 'incomplete', 'lfs-bridge'))).filter((n) =>
      /\.(part|lock)$/.test(n),
    );
    assert.deepEqual(left, [], 'partials or locks left behind');
    assert.deepEqual(
      (await ls(join(clone, '.git', 'lfs', 'tmp'))).filter((n) => n.startsWith('lfs-bridge')),
      [],
    );
  });
});
