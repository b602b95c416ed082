/**
 * Resume after the WHOLE process tree is killed (a closed terminal, a CI timeout, a container stop): git,
 * git-lfs and every agent get SIGKILL at once, under a child subreaper that leaves the dead agents as zombies
 * (test/helpers/subreaper.ts). 0.5 s later the same command runs again while the zombies still exist: it must take
 * over their locks and continue what they left (the fake's counters, the agent's first progress event and its debug
 * log say so), and leave nothing of the object in incomplete/lfs-bridge/ (or the store's incoming folder).
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type FakeDropbox, startFakeDropbox } from '../fakes/dropbox/server.js';
import { copyBig, ls, MiB, type Obj, objectPath, sha256File, sizeOf, writeRandomFile } from '../helpers/files.js';
import { sleep, waitFor } from '../helpers/proc.js';
import { describeRun } from '../helpers/run.js';
import { Sandbox } from '../helpers/sandbox.js';
import { killTree, procState, runSubreaped } from '../helpers/subreaper.js';
import { checkProgress, exchanges, readTrace } from '../helpers/trace.js';

const SEGMENT = 8 * MiB;

/** Bytes a download partial holds that a resume can use: the sidecar's segments, else the file's length. */
async function resumable(part: string): Promise<number> {
  const state = JSON.parse(await readFile(part.replace(/\.part$/, '.state'), 'utf8').catch(() => '{}'));
  if (Array.isArray(state.segments)) return (state.segments as { done: number }[]).reduce((n, s) => n + s.done, 0);
  return Math.max(0, await sizeOf(part));
}

/** The pid recorded in a lock file (null when there is none). */
async function lockHolder(path: string): Promise<number | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')).pid as number;
  } catch {
    return null;
  }
}

/**
 * Runs `git <args>` under the subreaper; once `ready()` is true, SIGKILLs the whole tree and checks that the holder
 * of `lock` (when one is given) is left a zombie. Returns the subreaper (still holding the zombies: finish() it).
 */
async function runAndKillTree(
  sb: Sandbox,
  cwd: string,
  args: string[],
  env: Record<string, string>,
  o: {
    ready: () => Promise<boolean>;
    lock: () => Promise<string | null>;
  },
) {
  const tree = runSubreaped('git', args, { cwd, env: sb.with(env) });
  try {
    let done = false;
    void tree.exited.then(() => (done = true));
    await waitFor(
      'the transfer to be half-way',
      async () => {
        if (done) throw new Error(`git ${args.join(' ')} finished before the kill:\n${tree.output()}`);
        return o.ready();
      },
      90_000,
    );
    const lockPath = await o.lock();
    const holder = lockPath ? await lockHolder(lockPath) : null;
    assert.ok(holder, `no lock held at ${lockPath}`);
    assert.ok((await killTree(tree.pid)) >= 3, 'git, git-lfs and the agents were killed');
    await tree.exited;
    assert.equal(await procState(holder), 'Z', `the lock's holder ${holder} is not a zombie`);
    await sleep(500);
    return { tree, holder, lockPath: lockPath as string };
  } catch (e) {
    await killTree(tree.pid).catch(() => {});
    await tree.finish();
    throw e;
  }
}

describe('e2e: resume after the whole process tree is killed (zombies kept)', function () {
  this.timeout(240_000);
  let sb: Sandbox;
  beforeEach(async () => {
    sb = await Sandbox.create('treekill');
  });
  afterEach(async () => sb?.cleanup());

  const debug = (log: string) => ({ LFS_BRIDGE_DEBUG: '1', LFS_BRIDGE_LOG: log });

  describe('local', () => {
    let remote: string;
    let store: string;
    let work: string;
    let big: Obj;
    beforeEach(async () => {
      remote = await sb.remote();
      store = await sb.store();
      work = await sb.workRepo('work', remote, store);
      big = await copyBig(join(work, 'huge.dat'));
      await sb.commitAll(work, 'huge');
    });

    it("pull: the second git lfs pull continues the zombie's .part and leaves incomplete/ empty", async () => {
      const storeCopy = objectPath(store, big.oid);
      await mkdir(dirname(storeCopy), { recursive: true });
      await copyFile(big.path, storeCopy);
      await sb.gitOk(work, ['push', '-q', '--no-verify', 'origin', 'main']);
      const clone = await sb.clone(remote, 'clone', store);
      await sb.gitOk(clone, ['config', 'lfs-bridge.maxrate', '40MiB']);
      const incomplete = join(clone, '.git', 'lfs', 'incomplete', 'lfs-bridge');
      const part = join(incomplete, `${big.oid}.part`);

      const { tree, holder } = await runAndKillTree(
        sb,
        clone,
        ['lfs', 'pull'],
        {},
        {
          ready: async () => (await sizeOf(part)) > 30 * MiB,
          lock: async () => join(incomplete, `${big.oid}.lock`),
        },
      );
      try {
        const had = await resumable(part);
        assert.ok(had > 20 * MiB && had < big.size, `the partial holds ${had}`);
        await sb.gitOk(clone, ['config', '--unset', 'lfs-bridge.maxrate']);
        const trace = sb.path('pull.trace');
        const log = sb.path('pull.log');
        const again = await sb.git(clone, ['lfs', 'pull'], {
          GIT_TRACE: trace,
          GIT_TRANSFER_TRACE: '1',
          ...debug(log),
        });
        assert.equal(again.code, 0, describeRun('git lfs pull (after the kill)', again));
        assert.equal(await procState(holder), 'Z', 'the zombie was still there during the second pull');
        const x = exchanges(await readTrace(trace)).filter((e) => e.oid === big.oid);
        assert.equal(x.length, 1);
        checkProgress(x[0]);
        const first = x[0].progress[0].msg.bytesSoFar as number;
        assert.ok(first >= had, `first progress ${first} < the partial's ${had} bytes: restarted, not resumed`);
        const text = await readFile(log, 'utf8');
        assert.match(text, new RegExp(`download of ${big.oid} from byte ${had}: partial kept`));
        assert.equal(await sha256File(join(clone, 'huge.dat')), big.oid);
        assert.deepEqual(await ls(incomplete), [], 'incomplete/lfs-bridge/ after the pull');
      } finally {
        await tree.finish();
      }
    });

    it("push: the second git push continues the zombie's partial in the store", async () => {
      const incoming = join(store, '.lfs-bridge-incoming');
      await sb.gitOk(work, ['config', 'lfs-bridge.maxrate', '40MiB']);
      const findPartial = async () => {
        const name = (await ls(incoming)).find((n) => n.startsWith(`${big.oid}.`) && n.endsWith('.part'));
        return name ? join(incoming, name) : null;
      };
      const locks = join(sb.home, '.local', 'state', 'lfs-bridge', 'locks');
      const { tree, holder } = await runAndKillTree(
        sb,
        work,
        ['push', 'origin', 'main'],
        {},
        {
          ready: async () => {
            const p = await findPartial();
            return !!p && (await sizeOf(p)) > 30 * MiB;
          },
          lock: async () => {
            const name = (await ls(locks)).find((n) => n.startsWith('upload-') && n.endsWith(`${big.oid}.lock`));
            return name ? join(locks, name) : null;
          },
        },
      );
      try {
        const partial = (await findPartial()) as string;
        const had = await sizeOf(partial);
        assert.ok(had > 20 * MiB && had < big.size, `the partial holds ${had}`);
        await sb.gitOk(work, ['config', '--unset', 'lfs-bridge.maxrate']);
        const trace = sb.path('push.trace');
        const log = sb.path('push.log');
        const again = await sb.git(work, ['push', 'origin', 'main'], {
          GIT_TRACE: trace,
          GIT_TRANSFER_TRACE: '1',
          ...debug(log),
        });
        assert.equal(again.code, 0, describeRun('git push (after the kill)', again));
        assert.equal(await procState(holder), 'Z', 'the zombie was still there during the second push');
        const x = exchanges(await readTrace(trace)).filter((e) => e.oid === big.oid);
        assert.equal(x.length, 1);
        checkProgress(x[0]);
        const first = x[0].progress[0].msg.bytesSoFar as number;
        assert.ok(first >= had && first < big.size, `first progress ${first}, the partial had ${had}: not resumed`);
        assert.match(await readFile(log, 'utf8'), new RegExp(`resuming ${big.oid} upload at byte ${had}: `));
        assert.equal(await sha256File(objectPath(store, big.oid)), big.oid);
        assert.deepEqual(await ls(incoming), [], "the store's incoming folder after the push");
        assert.deepEqual(
          (await ls(locks)).filter((n) => n.includes(big.oid)),
          [],
          'upload lock left',
        );
      } finally {
        await tree.finish();
      }
    });
  });

  describe('dropbox (fake)', () => {
    let fake: FakeDropbox;
    let env: Record<string, string>;
    const dbxPath = (oid: string) => `/lfs/repo/${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`;
    beforeEach(async () => {
      fake = await startFakeDropbox();
      env = { LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url, LFS_BRIDGE_DROPBOX_TOKEN: fake.issueToken().access };
    });
    afterEach(async () => fake?.close());

    async function repo(name: string, remote: string) {
      const dir = sb.path(name);
      await sb.gitOk(sb.root, ['init', '-q', dir]);
      await sb.gitOk(dir, ['remote', 'add', 'origin', remote]);
      await sb.bridgeOk(
        dir,
        ['setup', '--provider', 'dropbox', '--root', '/lfs/repo', '--shared', '--chunk-size', '8MiB'],
        env,
      );
      await sb.gitOk(dir, ['lfs', 'track', '*.dat']);
      return dir;
    }

    it('pull: the second git lfs pull fetches only what the zombie had not written', async () => {
      const remote = await sb.remote();
      const work = await repo('work', remote);
      const big = await writeRandomFile(join(work, 'big.dat'), 64 * MiB);
      await sb.gitOk(work, ['add', '.']);
      await sb.gitOk(work, ['commit', '-qm', 'big']);
      await sb.gitOk(work, ['push', '-q', 'origin', 'main'], env);
      await sb.gitOk(sb.root, ['clone', '-q', remote, 'copy'], { GIT_LFS_SKIP_SMUDGE: '1' });
      const copy = sb.path('copy');
      await sb.bridgeOk(copy, ['setup'], env);
      const incomplete = join(copy, '.git', 'lfs', 'incomplete', 'lfs-bridge');
      const part = join(incomplete, `${big.oid}.part`);
      fake.counters.reset();
      fake.setThrottle(4 * MiB); // per response: ~16 s for one stream
      const sent = () => fake.counters.bytesOutByPath[dbxPath(big.oid).toLowerCase()] ?? 0;

      const { tree, holder } = await runAndKillTree(sb, copy, ['lfs', 'pull'], env, {
        ready: async () => (await resumable(part)) >= 24 * MiB,
        lock: async () => join(incomplete, `${big.oid}.lock`),
      });
      try {
        const had = await resumable(part);
        const before = sent();
        fake.setThrottle(0);
        const log = sb.path('pull.log');
        const again = await sb.git(copy, ['lfs', 'pull'], { ...env, ...debug(log) });
        assert.equal(again.code, 0, describeRun('git lfs pull (after the kill)', again));
        assert.equal(await procState(holder), 'Z', 'the zombie was still there during the second pull');
        assert.equal(await sha256File(join(copy, 'big.dat')), big.oid);
        const resent = sent() - before;
        assert.ok(
          resent <= big.size - had + 2 * SEGMENT,
          `second pull fetched ${resent} of ${big.size} (the partial held ${had}; the fake had sent ${before})`,
        );
        assert.match(await readFile(log, 'utf8'), new RegExp(`download of ${big.oid} from byte \\d+: `));
        assert.deepEqual(await ls(incomplete), [], 'incomplete/lfs-bridge/ after the pull');
      } finally {
        await tree.finish();
      }
    });

    it("push: the second git push continues the zombie's session (from its keychain record)", async () => {
      const remote = await sb.remote();
      const work = await repo('work', remote);
      const big = await writeRandomFile(join(work, 'big.dat'), 64 * MiB);
      await sb.gitOk(work, ['add', '.']);
      await sb.gitOk(work, ['commit', '-qm', 'big']);
      const sessionBytes = () => Object.values(fake.counters.bytesInBySession).reduce((a, b) => a + b, 0);
      fake.setUploadThrottle(4 * MiB);
      const locks = join(sb.home, '.local', 'state', 'lfs-bridge', 'locks');
      const { tree, holder } = await runAndKillTree(sb, work, ['push', '-q', 'origin', 'main'], env, {
        // Pieces go out on up to 4 streams at once, each stream one piece after another: a 6th append means at
        // least two pieces were answered (and recorded), whatever the ramp did.
        ready: async () => (fake.counters.requests['/2/files/upload_session/append_v2'] ?? 0) >= 6,
        lock: async () => {
          const name = (await ls(locks)).find((n) => n.startsWith('upload-') && n.endsWith(`${big.oid}.lock`));
          return name ? join(locks, name) : null;
        },
      });
      try {
        const sentBefore = sessionBytes();
        fake.setUploadThrottle(0);
        const log = sb.path('push.log');
        const again = await sb.git(work, ['push', '-q', 'origin', 'main'], { ...env, ...debug(log) });
        assert.equal(again.code, 0, describeRun('git push (after the kill)', again));
        assert.equal(await procState(holder), 'Z', 'the zombie was still there during the second push');
        assert.ok(fake.files.get(dbxPath(big.oid))?.equals(await readFile(big.path)), 'stored byte-equal');
        // What was lost is what was in flight when the tree died: at most a piece per stream (4 × 8 MiB); the two
        // (or more) pieces already answered are not sent again (a little slack: a piece may be retried).
        const total = sessionBytes();
        assert.ok(
          total <= big.size + 4 * 8 * MiB,
          `sent ${total} bytes in all for ${big.size} (the fake had received ${sentBefore} before the kill)`,
        );
        assert.ok(
          total - sentBefore <= big.size - 8 * MiB,
          `the second push sent answered pieces again: ${total - sentBefore} bytes (before the kill ${sentBefore})`,
        );
        assert.ok(fake.counters.concurrentSessions <= 1, 'a second upload session was started');
        assert.match(await readFile(log, 'utf8'), new RegExp(`resuming ${big.oid} upload`));
        assert.deepEqual(
          (await ls(locks)).filter((n) => n.includes(big.oid)),
          [],
          'upload lock left',
        );
      } finally {
        await tree.finish();
      }
    });
  });
});
