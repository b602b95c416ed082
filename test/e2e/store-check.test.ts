/**
 * setup and status try the store (issue 10 §3): `setup` refuses a store a push could not write, or a cloud root
 * without a working login, and writes nothing; `status` reports an unreachable or read-only store, a login that
 * does not work and a missing agent command, and exits non-zero whenever it reports a problem — also outside a
 * repository and in one not set up.
 *
 * Read-only: root ignores permission bits, so as root the folders are made immutable (chattr +i); otherwise
 * chmod a-w.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { type FakeDropbox, startFakeDropbox } from '../fakes/dropbox/server.js';
import { describeRun } from '../helpers/run.js';
import { Sandbox } from '../helpers/sandbox.js';

/** Makes folders unwritable even for root; returns the undo. */
async function readOnly(...dirs: string[]): Promise<() => Promise<void>> {
  const present = dirs.filter((d) => existsSync(d));
  if (process.getuid?.() === 0) {
    execFileSync('chattr', ['+i', ...present]);
    return async () => {
      execFileSync('chattr', ['-i', ...present]);
    };
  }
  for (const d of present) await chmod(d, 0o555);
  return async () => {
    for (const d of present) await chmod(d, 0o755);
  };
}

interface Status {
  ok: boolean;
  wiring: { problems: string[]; effective: boolean };
  store: { checked: boolean; ok: boolean; problem?: string };
}

describe('e2e: setup and status check the store', function () {
  this.timeout(120_000);
  let sb: Sandbox;
  before(async () => {
    sb = await Sandbox.create('storecheck');
  });
  after(async () => sb?.cleanup());

  const statusJson = async (dir: string, code: number, env = {}): Promise<Status> => {
    const r = await sb.bridge(dir, ['status', '--json'], env);
    assert.equal(r.code, code, describeRun('status --json', r));
    return JSON.parse(r.stdout) as Status;
  };
  const ownKeys = async (dir: string) =>
    (await sb.git(dir, ['config', '--local', '--get-regexp', '^lfs-bridge\\.|standalonetransferagent'])).stdout;

  it('setup refuses a local store it cannot write, says why, and writes nothing', async () => {
    const store = await sb.store('ro-store');
    const dir = sb.path('ro-repo');
    await sb.gitOk(sb.root, ['init', '-q', dir]);
    const undo = await readOnly(store);
    try {
      const r = await sb.bridge(dir, ['setup', '--provider', 'local', '--root', store, '--shared']);
      assert.notEqual(r.code, 0, describeRun('setup', r));
      const said = r.stderr.replace(/\s+/g, ' '); // however the error printer wraps it
      assert.match(said, new RegExp(`${store} cannot be written: cannot create ${store}/\\.lfs-bridge-incoming`));
      assert.match(said, /operation not permitted|permission denied/);
      assert.equal(await ownKeys(dir), '');
      assert.equal(existsSync(join(dir, '.lfs-bridge')), false);
    } finally {
      await undo();
    }
    // The same folder, writable again: setup goes through and leaves no trace of its check.
    await sb.bridgeOk(dir, ['setup', '--provider', 'local', '--root', store]);
    assert.deepEqual(execFileSync('ls', ['-A', join(store, '.lfs-bridge-incoming')]).toString(), '');
  });

  describe('status of a local repository', () => {
    let store: string;
    let work: string;
    before(async () => {
      store = await sb.store('store');
      work = await sb.workRepo('work', await sb.remote(), store);
    });

    it('all well: exit 0, the store reachable and writable', async () => {
      const s = await statusJson(work, 0);
      assert.equal(s.ok, true);
      assert.deepEqual(s.store, { checked: true, ok: true });
      const human = await sb.bridge(work, ['status']);
      assert.equal(human.code, 0, describeRun('status', human));
      assert.match(human.stdout, /Store +reachable and writable/);
    });

    it('a read-only store: exit 1, and the reason', async () => {
      const undo = await readOnly(store, join(store, '.lfs-bridge-incoming'));
      try {
        const s = await statusJson(work, 1);
        assert.equal(s.ok, false);
        assert.equal(s.store.ok, false);
        assert.match(s.store.problem ?? '', /cannot be written.*(operation not permitted|permission denied)/);
        const human = await sb.bridge(work, ['status']);
        assert.equal(human.code, 1);
        assert.match(human.stdout, /Store +NOT usable\n +! the local store .* cannot be written/);
      } finally {
        await undo();
      }
    });

    it('the store folder gone (an unmounted disk): exit 1, "is the disk or share mounted?"', async () => {
      await rename(store, `${store}.away`);
      try {
        const s = await statusJson(work, 1);
        assert.match(s.store.problem ?? '', /not reachable.*is the disk or share mounted/);
      } finally {
        await rename(`${store}.away`, store);
      }
      assert.equal((await statusJson(work, 0)).ok, true);
    });

    it('a missing agent command: exit 1', async () => {
      const key = 'lfs.customtransfer.lfs-bridge.path';
      const path = (await sb.gitOk(work, ['config', '--get', key])).stdout.trim();
      await sb.gitOk(work, ['config', key, '/nonexistent/node']);
      try {
        const s = await statusJson(work, 1);
        assert.ok(
          s.wiring.problems.some((p) => /agent command does not exist/.test(p)),
          JSON.stringify(s.wiring.problems),
        );
      } finally {
        await sb.gitOk(work, ['config', key, path]);
      }
    });
  });

  it('outside a repository: exit 1', async () => {
    const r = await sb.bridge(sb.root, ['status']);
    assert.equal(r.code, 1, describeRun('status', r));
    assert.match(r.stdout, /not inside a git work tree/);
  });

  it('in a repository not set up: exit 1, and "not set up" said once', async () => {
    const dir = sb.path('plain');
    await sb.gitOk(sb.root, ['init', '-q', dir]);
    const r = await sb.bridge(dir, ['status']);
    assert.equal(r.code, 1, describeRun('status', r));
    assert.equal(r.stdout.match(/not set up/g)?.length, 1, r.stdout);
  });

  describe('dropbox', () => {
    let fake: FakeDropbox;
    before(async () => {
      fake = await startFakeDropbox();
    });
    after(async () => fake?.close());

    it('setup without a working login refuses, naming lfs-bridge login, and writes nothing', async () => {
      const dir = sb.path('dbx-nologin');
      await sb.gitOk(sb.root, ['init', '-q', dir]);
      const env = { LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url, LFS_BRIDGE_DROPBOX_TOKEN: 'not-a-token' };
      const r = await sb.bridge(dir, ['setup', '--provider', 'dropbox', '--root', '/lfs/x'], env);
      assert.notEqual(r.code, 0, describeRun('setup', r));
      assert.match(r.stderr.replace(/\s+/g, ' '), /lfs-bridge login dropbox/);
      assert.equal(await ownKeys(dir), '');
    });

    it('status: exit 0 with a working login, exit 1 once the token no longer works', async () => {
      const dir = sb.path('dbx');
      await sb.gitOk(sb.root, ['init', '-q', dir]);
      const good = { LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url, LFS_BRIDGE_DROPBOX_TOKEN: fake.issueToken().access };
      await sb.bridgeOk(dir, ['setup', '--provider', 'dropbox', '--root', '/lfs/x'], good);
      assert.deepEqual((await statusJson(dir, 0, good)).store, { checked: true, ok: true });
      const expired = { ...good, LFS_BRIDGE_DROPBOX_TOKEN: 'expired-token' };
      const s = await statusJson(dir, 1, expired);
      assert.match(s.store.problem ?? '', /lfs-bridge login dropbox/);
    });
  });
});
