/**
 * Progress as git-lfs sees it: AT-1 (visible progress on a throttled 100 MiB push), AT-2 (every
 * oid's progress is monotonic and ends at its size, then its complete), AT-5 (8 workers, interleaved progress),
 * and a re-push that sends nothing yet still reports each object in full.
 * See docs/protocol.md "Progress", "Acceptance tests", S12.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  changedFiles,
  copyBig,
  KiB,
  ls,
  MiB,
  type Obj,
  objectPath,
  sha256File,
  snapshot,
  writeBytes,
  writeRandomFiles,
} from '../helpers/files.js';
import { describeRun, run } from '../helpers/run.js';
import { Sandbox } from '../helpers/sandbox.js';
import { checkProgress, completes, exchanges, progresses, readTrace, requests } from '../helpers/trace.js';

describe('e2e: progress', function () {
  this.timeout(120_000);
  let sb: Sandbox;
  beforeEach(async () => {
    sb = await Sandbox.create('progress');
  });
  afterEach(async () => sb?.cleanup());

  it('AT-1: a throttled 100 MiB push shows rising progress (GIT_LFS_PROGRESS, and redraws on a TTY)', async () => {
    const remote = await sb.remote();
    const store = await sb.store();
    const work = await sb.workRepo('work', remote, store);
    const big = await copyBig(join(work, 'huge.dat'));
    await sb.commitAll(work, 'huge');
    await sb.gitOk(work, ['config', 'lfs-bridge.maxrate', '40MiB']);
    const progressFile = sb.path('progress.log');
    // One push on a pseudo-terminal (script -e returns the command's exit code), recording GIT_LFS_PROGRESS too.
    const r = await run('script', ['-qfec', 'git push origin main', '/dev/null'], {
      cwd: work,
      env: sb.with({ GIT_LFS_PROGRESS: progressFile }),
    });
    assert.equal(r.code, 0, describeRun('git push (under script)', r));
    assert.ok(r.ms >= 2000, `the throttled push took only ${r.ms} ms`);

    const values = (await readFile(progressFile, 'utf8'))
      .split('\n')
      .map((l) => /^upload 1\/1 (\d+)\/(\d+) huge\.dat$/.exec(l))
      .filter((m) => m !== null)
      .map((m) => {
        assert.equal(Number(m[2]), big.size);
        return Number(m[1]);
      });
    assert.equal(values.at(-1), big.size, `the last GIT_LFS_PROGRESS value: ${values.join(', ')}`);
    const before = values.slice(0, -1).filter((v) => v > 0 && v < big.size);
    for (let i = 1; i < values.length; i++) assert.ok(values[i] >= values[i - 1], `not monotonic: ${values}`);
    assert.ok(new Set(before).size >= 3, `want ≥ 3 increasing values before the final one, got ${values.join(', ')}`);

    // On a TTY git-lfs redraws its meter with \r: several distinct "Uploading LFS objects" states.
    const frames = r.stdout.split('\r').filter((f) => f.includes('Uploading LFS objects'));
    const amounts = new Set(frames.map((f) => /\), ([^|]+)\|/.exec(f)?.[1].trim()));
    assert.ok(frames.length >= 3 && amounts.size >= 3, `too few redraws:\n${JSON.stringify(r.stdout.slice(0, 2000))}`);
    assert.match(r.stdout, /Uploading LFS objects: 100% \(1\/1\)/);
    assert.equal(await sha256File(objectPath(store, big.oid)), big.oid);
  });

  it('AT-2: for every oid, up and down, progress is monotonic, sums to the size, and is followed by complete', async () => {
    const remote = await sb.remote();
    const store = await sb.store();
    const work = await sb.workRepo('work', remote, store);
    const objs: Obj[] = [
      await writeBytes(join(work, 'one.dat'), 'x'),
      ...(await writeRandomFiles(work, [17, 4 * KiB, MiB, 4 * MiB + 7, 6 * MiB + 1])),
    ];
    await sb.commitAll(work, 'objects');
    await sb.gitOk(work, ['config', 'lfs-bridge.maxrate', '8MiB']);
    const up = sb.path('up.trace');
    const push = await sb.git(work, ['push', 'origin', 'main'], { GIT_TRACE: up, GIT_TRANSFER_TRACE: '1' });
    assert.equal(push.code, 0, describeRun('git push', push));

    const clone = await sb.clone(remote, 'clone', store);
    await sb.gitOk(clone, ['config', 'lfs-bridge.maxrate', '8MiB']);
    const down = sb.path('down.trace');
    const pull = await sb.git(clone, ['lfs', 'pull'], { GIT_TRACE: down, GIT_TRANSFER_TRACE: '1' });
    assert.equal(pull.code, 0, describeRun('git lfs pull', pull));

    for (const [file, op] of [
      [up, 'upload'],
      [down, 'download'],
    ]) {
      const t = await readTrace(file);
      const xs = exchanges(t);
      assert.deepEqual(new Set(xs.map((x) => x.request.msg.event)), new Set([op]));
      assert.deepEqual(new Set(xs.map((x) => x.oid)), new Set(objs.map((o) => o.oid)), `${op}: oids in the trace`);
      for (const x of xs) checkProgress(x);
      // The throttled 6 MiB object reports more than once on its way.
      const big = xs.find((x) => x.size === 6 * MiB + 1);
      assert.ok(big && big.progress.length >= 3, `${op}: ${big?.progress.length} progress events for 6 MiB`);
      assert.deepEqual(t.badExits, [], `${op}: agents exited non-zero`);
    }
    for (const o of objs) assert.equal(await sha256File(join(clone, o.path.slice(work.length + 1))), o.oid);
  });

  it('AT-5: 16 throttled objects with lfs.concurrenttransfers=8 use 8 workers at once', async () => {
    const remote = await sb.remote();
    const store = await sb.store();
    const work = await sb.workRepo('work', remote, store);
    const objs = await writeRandomFiles(
      work,
      Array.from({ length: 16 }, (_, i) => 3 * MiB + i),
    );
    await sb.commitAll(work, 'sixteen');
    await sb.gitOk(work, ['config', 'lfs.concurrenttransfers', '8']);
    await sb.gitOk(work, ['config', 'lfs-bridge.maxrate', '2MiB']);
    const file = sb.path('push.trace');
    const push = await sb.git(work, ['push', 'origin', 'main'], { GIT_TRACE: file, GIT_TRANSFER_TRACE: '1' });
    assert.equal(push.code, 0, describeRun('git push', push));
    const t = await readTrace(file);

    assert.equal(new Set(t.started).size, 8, `workers started: ${t.started}`);
    const reqs = requests(t);
    assert.equal(reqs.length, 16);
    assert.equal(new Set(reqs.map((m) => m.proc)).size, 8, 'all 8 workers got objects');
    // A second request went out before the first object completed.
    const firstComplete = completes(t)[0];
    assert.ok(reqs[1].line < firstComplete.line, 'the second request waited for the first complete');
    // Progress of at least two oids interleaves: A, then B, then A again.
    const seq = progresses(t).map((m) => m.msg.oid as string);
    const interleaved = seq.some((a, i) => {
      const b = seq.findIndex((x, j) => j > i && x !== a);
      return b > 0 && seq.indexOf(a, b + 1) > 0;
    });
    assert.ok(interleaved, 'no interleaved progress');
    for (const x of exchanges(t)) checkProgress(x);
    for (const o of objs) assert.equal(await sha256File(objectPath(store, o.oid)), o.oid);
    assert.deepEqual(t.badExits, []);
  });

  it('re-push: git lfs push --all sends no content, yet every oid reports progress(size, size)', async () => {
    const remote = await sb.remote();
    const store = await sb.store();
    const work = await sb.workRepo('work', remote, store);
    const objs = await writeRandomFiles(work, [1, 100, 10 * KiB, MiB, 5 * MiB]);
    await sb.commitAll(work, 'objects');
    const first = await sb.git(work, ['push', 'origin', 'main']);
    assert.equal(first.code, 0, describeRun('git push', first));
    const before = await snapshot(store);
    await new Promise((r) => setTimeout(r, 20)); // so that a rewrite would show in mtimes

    const file = sb.path('repush.trace');
    const again = await sb.git(work, ['lfs', 'push', '--all', 'origin'], { GIT_TRACE: file, GIT_TRANSFER_TRACE: '1' });
    assert.equal(again.code, 0, describeRun('git lfs push --all', again));
    const after = await snapshot(store);
    assert.deepEqual(changedFiles(before, after), [], 'the store changed');
    assert.equal(after.size, before.size);
    assert.deepEqual(await ls(join(store, '.lfs-bridge-incoming')), []);

    const t = await readTrace(file);
    const xs = exchanges(t);
    assert.deepEqual(new Set(xs.map((x) => x.oid)), new Set(objs.map((o) => o.oid)));
    for (const x of xs) {
      checkProgress(x);
      assert.deepEqual(
        x.progress.map((p) => [p.msg.bytesSoFar, p.msg.bytesSinceLast]),
        [[x.size, x.size]],
        `${x.oid}: an object already stored is reported in one event`,
      );
    }
  });
});
