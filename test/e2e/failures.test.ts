/**
 * Failures through real git + git-lfs: AT-4 (one object fails, the others are
 * stored, the push fails with our message), a corrupted and a missing object in the store on pull, and an init
 * error for a store that is gone.
 * See docs/protocol.md "Errors and exit codes", AT-4, S6, S7, S9.
 */
import assert from 'node:assert/strict';
import { cp, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import {
  exists,
  flipByte,
  KiB,
  ls,
  MiB,
  type Obj,
  objectPath,
  sha256File,
  writeRandomFiles,
} from '../helpers/files.js';
import { describeRun } from '../helpers/run.js';
import { Sandbox } from '../helpers/sandbox.js';
import { checkProgress, completes, exchanges, readTrace } from '../helpers/trace.js';

const traced = (file: string) => ({ GIT_TRACE: file, GIT_TRANSFER_TRACE: '1' });

describe('e2e: failures', function () {
  this.timeout(120_000);

  describe('AT-4: one object fails, the others go on', () => {
    let sb: Sandbox;
    beforeEach(async () => {
      sb = await Sandbox.create('at4');
    });
    afterEach(async () => sb?.cleanup());

    /**
     * Pushes objects of `sizes`; the store cannot take objs[failing]: a directory sits at its final path, so the
     * commit's rename fails (permissions would not stop root).
     */
    async function pushWithOneFailing(sizes: number[], failing: number, maxRate?: string) {
      const remote = await sb.remote();
      const store = await sb.store();
      const work = await sb.workRepo('work', remote, store);
      const objs = await writeRandomFiles(work, sizes);
      await sb.commitAll(work, 'objects');
      if (maxRate) await sb.gitOk(work, ['config', 'lfs-bridge.maxrate', maxRate]);
      const bad = objs[failing];
      await mkdir(objectPath(store, bad.oid), { recursive: true });
      const file = sb.path('push.trace');
      const push = await sb.git(work, ['push', 'origin', 'main'], traced(file));
      return { store, objs, bad, push, trace: await readTrace(file), remote };
    }

    async function checkOutcome(r: Awaited<ReturnType<typeof pushWithOneFailing>>) {
      assert.notEqual(r.push.code, 0, describeRun('git push', r.push));
      const cs = completes(r.trace);
      const failed = cs.filter((c) => c.msg.error);
      assert.deepEqual(
        failed.map((c) => c.msg.oid),
        [r.bad.oid],
        'exactly the one object failed',
      );
      const err = failed[0].msg.error as { code: number; message: string };
      assert.ok(Number.isSafeInteger(err.code) && err.code >= 400, `code ${err.code}`);
      // git-lfs prints `error transferring "<oid>": [<code>] <message>`; the push output carries our message.
      assert.ok(
        r.push.output.includes(`error transferring "${r.bad.oid}": [${err.code}] ${err.message}`),
        describeRun('git push', r.push),
      );
      for (const o of r.objs) {
        if (o === r.bad) continue;
        assert.equal(await sha256File(objectPath(r.store, o.oid)), o.oid, `${o.size}-byte object not stored`);
      }
      for (const x of exchanges(r.trace)) if (x.oid !== r.bad.oid) checkProgress(x);
      assert.deepEqual(r.trace.badExits, [], 'agents must exit 0 after terminate');
      // No refs were updated on the remote.
      const refs = await sb.git(r.remote, ['rev-parse', '--verify', '-q', 'refs/heads/main']);
      assert.notEqual(refs.code, 0, 'git push updated the remote despite the failed object');
    }

    it('a middle-sized object fails: error complete for it, the others are stored, git push fails with our message', async () => {
      const r = await pushWithOneFailing([KiB, 10 * KiB, 100 * KiB, MiB, 2 * MiB, 3], 2);
      await checkOutcome(r);
    });

    it('the largest object fails (worker 0 gets it first): the other workers still start and complete', async () => {
      const r = await pushWithOneFailing([8 * MiB, 100, 2 * KiB, 30 * KiB, 300 * KiB, 1], 0, '4MiB');
      await checkOutcome(r);
      // The other objects completed while the largest was still on its way (they were not held behind it).
      const cs = completes(r.trace);
      const badAt = cs.findIndex((c) => c.msg.oid === r.bad.oid);
      assert.equal(badAt, cs.length - 1, 'the throttled largest object should complete (with its error) last');
      const procs = new Set(exchanges(r.trace).map((x) => x.proc));
      assert.ok(procs.size >= 2, 'only one worker was used');
    });
  });

  describe('pull from a damaged store', () => {
    let sb: Sandbox;
    let remote: string;
    let store: string;
    let objs: Obj[];
    before(async () => {
      sb = await Sandbox.create('damaged');
      remote = await sb.remote();
      store = await sb.store();
      const work = await sb.workRepo('work', remote, store);
      // The fixture of docs/protocol.md S6 and S7: 4 commits, 12 distinct objects of 18 B to 2 KiB (plus one
      // of 1 MiB to corrupt mid-file).
      objs = [];
      const sizes = [18, 50, 100, 200, 300, 500, 700, 900, 1200, 1500, 2 * KiB, MiB];
      for (let c = 0; c < 4; c++) {
        objs.push(...(await writeRandomFiles(join(work, `c${c}`), sizes.slice(c * 3, c * 3 + 3))));
        await sb.commitAll(work, `commit ${c}`);
      }
      const push = await sb.git(work, ['push', 'origin', 'main']);
      assert.equal(push.code, 0, describeRun('git push', push));
    });
    after(async () => sb?.cleanup());

    /** A copy of the store, damaged by `damage`, and a fresh clone set up against it. */
    async function cloneAgainst(name: string, damage: (s: string) => Promise<void>) {
      const copy = sb.path(`store-${name}`);
      await cp(store, copy, { recursive: true });
      await damage(copy);
      const dir = await sb.clone(remote, `clone-${name}`, copy);
      const file = sb.path(`${name}.trace`);
      const pull = await sb.git(dir, ['lfs', 'pull'], traced(file));
      return { dir, lfs: join(dir, '.git', 'lfs'), pull, trace: await readTrace(file) };
    }

    const leftovers = async (lfs: string, oid: string) =>
      (await ls(join(lfs, 'incomplete', 'lfs-bridge'))).filter((n) => n.startsWith(oid));

    it('a corrupted object: complete 422, git lfs pull exits 2, the object never lands, no partial or tmp file left', async () => {
      const bad = objs.at(-1) as Obj;
      const r = await cloneAgainst('corrupt', (s) => flipByte(objectPath(s, bad.oid), 12345));
      assert.equal(r.pull.code, 2, describeRun('git lfs pull', r.pull));
      const failed = completes(r.trace).filter((c) => c.msg.error);
      assert.deepEqual(
        failed.map((c) => [c.msg.oid, c.msg.error?.code]),
        [[bad.oid, 422]],
      );
      assert.ok(r.pull.output.includes(bad.oid), 'the output names the oid');
      assert.equal(await exists(objectPath(join(r.lfs, 'objects'), bad.oid)), false, 'corrupt object in objects/');
      assert.deepEqual(
        (await ls(join(r.lfs, 'tmp'))).filter((n) => n.includes(bad.oid) || n.startsWith('lfs-bridge')),
        [],
        'files left in <lfs>/tmp',
      );
      const left = await leftovers(r.lfs, bad.oid);
      assert.ok(!left.some((n) => n.endsWith('.part') || n.endsWith('.lock')), `partial left: ${left}`);
      for (const o of objs) {
        if (o !== bad) assert.equal(await sha256File(objectPath(join(r.lfs, 'objects'), o.oid)), o.oid);
      }
    });

    it('a missing object (1 of 12): the other 11 arrive, exit 2, the message names the oid (404)', async () => {
      const bad = objs[4];
      const r = await cloneAgainst('missing', (s) => rm(objectPath(s, bad.oid)));
      assert.equal(r.pull.code, 2, describeRun('git lfs pull', r.pull));
      assert.ok(r.pull.output.includes(bad.oid), describeRun('git lfs pull', r.pull));
      const failed = completes(r.trace).filter((c) => c.msg.error);
      assert.deepEqual(
        failed.map((c) => [c.msg.oid, c.msg.error?.code]),
        [[bad.oid, 404]],
      );
      let arrived = 0;
      for (const o of objs) {
        if (o === bad) continue;
        assert.equal(await sha256File(objectPath(join(r.lfs, 'objects'), o.oid)), o.oid);
        arrived++;
      }
      assert.equal(arrived, 11);
      assert.equal(await exists(objectPath(join(r.lfs, 'objects'), bad.oid)), false);
    });

    it('a failed download leaves no orphan .state sidecar (only a resumable .part may keep one)', async () => {
      const bad = objs[5];
      const r = await cloneAgainst('orphan', (s) => rm(objectPath(s, bad.oid)));
      assert.equal(r.pull.code, 2, describeRun('git lfs pull', r.pull));
      const names = await ls(join(r.lfs, 'incomplete', 'lfs-bridge'));
      const orphans = names.filter((n) => n.endsWith('.state') && !names.includes(n.replace(/\.state$/, '.part')));
      assert.deepEqual(orphans, [], 'sidecars without a partial');
    });
  });

  it('init error: a local root that is gone fails the batch with git-lfs\'s "error initializing custom adapter"', async () => {
    const sb = await Sandbox.create('init-error');
    try {
      const remote = await sb.remote();
      const store = await sb.store();
      const work = await sb.workRepo('work', remote, store);
      await writeRandomFiles(work, [10, 20]);
      await sb.commitAll(work, 'objects');
      await rm(store, { recursive: true });
      const push = await sb.git(work, ['push', 'origin', 'main']);
      assert.notEqual(push.code, 0);
      assert.match(push.output, /error initializing custom adapter "lfs-bridge" worker 0/);
      assert.ok(push.output.includes(store), `the message names the store:\n${push.output}`);
      assert.equal(await exists(store), false, 'the agent must not recreate a missing root');
    } finally {
      await sb.cleanup();
    }
  });
});
