/**
 * A plain `git clone` (issue 10 §2): `lfs-bridge install` writes the global keys once, `setup --shared` commits the
 * sentinel lfs.url in .lfsconfig, and a plain clone then checks the LFS files out through the agent — from a
 * `local` store and from the fake Dropbox. The global keys leave a repository on an ordinary LFS server alone
 * (the project's own small server on 127.0.0.1), and `install --remove` takes out exactly what install wrote.
 * Without install, `lfs-bridge setup` in the clone whose checkout failed finishes it, with a clean status.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type FakeDropbox, startFakeDropbox } from '../fakes/dropbox/server.js';
import { startFakeLfsServer } from '../fakes/lfs-server.js';
import { type Obj, objectPath, sha256, sha256File, writeRandomFiles } from '../helpers/files.js';
import { describeRun } from '../helpers/run.js';
import { Sandbox } from '../helpers/sandbox.js';

const SCOPED = 'lfs.https://lfs-bridge.invalid/.standalonetransferagent';

describe('e2e: a plain git clone', function () {
  this.timeout(180_000);
  let sb: Sandbox;
  let gitconfigBefore: string;
  const gitconfig = () => readFile(join(sb.home, '.gitconfig'), 'utf8');

  before(async () => {
    sb = await Sandbox.create('plainclone');
    gitconfigBefore = await gitconfig();
  });
  after(async () => sb?.cleanup());

  const expectFiles = async (dir: string, objs: Obj[], from: string) => {
    for (const o of objs) {
      const name = o.path.slice(from.length + 1);
      assert.equal(await sha256File(join(dir, name)), o.oid, `${name} in ${dir}`);
    }
  };
  const porcelain = async (dir: string) => (await sb.gitOk(dir, ['status', '--porcelain'])).stdout;

  /** A repository set up with --shared on a local store, with objects pushed. */
  async function sharedLocalRepo(name: string): Promise<{ remote: string; store: string; work: string; objs: Obj[] }> {
    const remote = await sb.remote(`${name}.git`);
    const store = await sb.store(`${name}-store`);
    const work = await sb.workRepo(name, remote, store, ['--shared']);
    const objs = await writeRandomFiles(join(work, 'assets'), [1, 3000, 2_000_000]);
    await sb.commitAll(work, 'objects');
    const push = await sb.git(work, ['push', '-q', 'origin', 'main']);
    assert.equal(push.code, 0, describeRun('git push', push));
    return { remote, store, work, objs };
  }

  it('setup --shared writes the sentinel lfs.url (provider and root) to .lfsconfig, and git-lfs takes it without a warning', async () => {
    const { work, store } = await sharedLocalRepo('sentinel');
    const url = (await sb.gitOk(work, ['config', '--file', '.lfsconfig', '--get', 'lfs.url'])).stdout.trim();
    assert.equal(url, `https://lfs-bridge.invalid/local/${encodeURIComponent(store)}`);
    const env = await sb.git(work, ['lfs', 'env']);
    assert.match(env.stdout, new RegExp(`^Endpoint=${url.replace(/[.]/g, '\\.')} `, 'm'));
    assert.doesNotMatch(env.output, /unsafe '\.lfsconfig' keys/);
  });

  it('install writes the global keys (all lowercase), says what it wrote, and a second run changes nothing', async () => {
    const r = await sb.bridge(sb.root, ['install']);
    assert.equal(r.code, 0, describeRun('install', r));
    const file = join(sb.home, '.gitconfig');
    for (const k of ['path', 'args', 'concurrent'])
      assert.match(r.stdout, new RegExp(`Wrote ${file}: lfs\\.customtransfer\\.lfs-bridge\\.${k} = `));
    assert.match(r.stdout, /Wrote .*: lfs\.https:\/\/lfs-bridge\.invalid\/\.standalonetransferagent = lfs-bridge/);
    const keys = (await sb.gitOk(sb.root, ['config', '--global', '--list'])).stdout;
    assert.match(keys, /^lfs\.customtransfer\.lfs-bridge\.path=/m);
    assert.match(keys, /^lfs\.customtransfer\.lfs-bridge\.concurrent=true$/m);
    assert.match(keys, /^lfs\.https:\/\/lfs-bridge\.invalid\/\.standalonetransferagent=lfs-bridge$/m);
    assert.doesNotMatch(await gitconfig(), /customTransfer/);
    assert.doesNotMatch(keys, /^lfs\.standalonetransferagent=/m, 'never the unscoped key');
    const again = await sb.bridge(sb.root, ['install']);
    assert.equal(again.code, 0, describeRun('install again', again));
    assert.match(again.stdout, /Already installed .*nothing changed/);
    assert.doesNotMatch(again.stdout, /Wrote/);
  });

  it('with install done, a plain git clone checks the LFS files out from a local store, and push works from it', async () => {
    const { remote, store, work, objs } = await sharedLocalRepo('local');
    const dir = sb.path('local-clone');
    const clone = await sb.git(sb.root, ['clone', remote, dir]);
    assert.equal(clone.code, 0, describeRun('git clone', clone));
    await expectFiles(dir, objs, work);
    assert.equal(await porcelain(dir), '');
    const own = await sb.git(dir, ['config', '--local', '--get-regexp', '^lfs-bridge\\.|standalonetransferagent']);
    assert.equal(own.stdout, '', 'the clone needed no setup of its own');
    const status = await sb.bridge(dir, ['status', '--json']);
    assert.equal(status.code, 0, describeRun('status', status));
    const s = JSON.parse(status.stdout);
    assert.equal(s.wiring.effective, true, JSON.stringify(s.wiring));
    assert.equal(s.wiring.provider, 'local');
    assert.equal(s.wiring.root, store);
    // The clone pushes through the agent too.
    const more = await writeRandomFiles(join(dir, 'assets'), [4321], 'new');
    await sb.commitAll(dir, 'more');
    const push = await sb.git(dir, ['push', '-q', 'origin', 'main']);
    assert.equal(push.code, 0, describeRun('push from the plain clone', push));
    assert.equal(await sha256File(objectPath(store, more[0].oid)), more[0].oid);
  });

  it('with install done, a plain git clone checks the LFS files out from the fake Dropbox', async () => {
    const fake: FakeDropbox = await startFakeDropbox();
    try {
      const env = { LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url, LFS_BRIDGE_DROPBOX_TOKEN: fake.issueToken().access };
      const remote = await sb.remote('dbx.git');
      const work = sb.path('dbx');
      await sb.gitOk(sb.root, ['init', '-q', work]);
      await sb.gitOk(work, ['remote', 'add', 'origin', remote]);
      await sb.bridgeOk(work, ['setup', '--provider', 'dropbox', '--root', '/lfs/plain', '--shared'], env);
      await sb.gitOk(work, ['lfs', 'track', '*.dat']);
      const objs = await writeRandomFiles(join(work, 'assets'), [10, 70_000]);
      await sb.commitAll(work, 'objects');
      const push = await sb.git(work, ['push', '-q', 'origin', 'main'], env);
      assert.equal(push.code, 0, describeRun('git push', push));
      const dir = sb.path('dbx-clone');
      const clone = await sb.git(sb.root, ['clone', remote, dir], env);
      assert.equal(clone.code, 0, describeRun('git clone', clone));
      await expectFiles(dir, objs, work);
      assert.equal(await porcelain(dir), '');
    } finally {
      await fake.close();
    }
  });

  it('a repository on an ordinary LFS server pushes and clones through its basic transfer; the agent is never started', async () => {
    await sb.bridgeOk(sb.root, ['install']);
    const server = await startFakeLfsServer();
    try {
      const remote = await sb.remote('ordinary.git');
      const work = sb.path('ordinary');
      await sb.gitOk(sb.root, ['init', '-q', work]);
      await sb.gitOk(work, ['remote', 'add', 'origin', remote]);
      await sb.gitOk(work, ['lfs', 'track', '*.dat']);
      await sb.gitOk(work, ['config', '--file', '.lfsconfig', 'lfs.url', server.url]);
      const objs = await writeRandomFiles(join(work, 'assets'), [5, 50_000]);
      await sb.commitAll(work, 'objects');
      // The canary: any agent start writes its init to this log.
      const canary = sb.path('agent.log');
      const watch = { LFS_BRIDGE_LOG: canary, LFS_BRIDGE_DEBUG: '1', GIT_TRACE: sb.path('ordinary.trace') };
      const push = await sb.git(work, ['push', '-q', 'origin', 'main'], watch);
      assert.equal(push.code, 0, describeRun('git push', push));
      for (const o of objs) assert.equal(sha256(server.objects.get(o.oid) ?? ''), o.oid, 'on the LFS server');
      const dir = sb.path('ordinary-clone');
      const clone = await sb.git(sb.root, ['clone', remote, dir], watch);
      assert.equal(clone.code, 0, describeRun('git clone', clone));
      await expectFiles(dir, objs, work);
      assert.equal(await porcelain(dir), '');
      const trace = await readFile(sb.path('ordinary.trace'), 'utf8');
      assert.doesNotMatch(trace, /custom adapter|lfs-bridge\.invalid/i);
      assert.equal(existsSync(canary), false, 'the agent was started');
      // What the global keys do: git-lfs offers the agent by name in its batch requests; the server picks basic.
      assert.ok(server.batches.length >= 2);
      for (const b of server.batches) assert.ok(b.transfers?.includes('basic'), JSON.stringify(b));
      assert.ok(
        server.batches.some((b) => b.transfers?.includes('lfs-bridge')),
        JSON.stringify(server.batches.map((b) => b.transfers)),
      );
    } finally {
      await server.close();
    }
  });

  it('a server that answers with transfer "lfs-bridge" gets nothing: the agent, not set up there, refuses at init', async () => {
    await sb.bridgeOk(sb.root, ['install']);
    const server = await startFakeLfsServer({ transfer: 'lfs-bridge' });
    try {
      const remote = await sb.remote('hostile.git');
      const work = sb.path('hostile');
      await sb.gitOk(sb.root, ['init', '-q', work]);
      await sb.gitOk(work, ['remote', 'add', 'origin', remote]);
      await sb.gitOk(work, ['lfs', 'track', '*.dat']);
      await sb.gitOk(work, ['config', 'lfs.url', server.url]);
      await writeRandomFiles(join(work, 'assets'), [100]);
      await sb.commitAll(work, 'objects');
      const push = await sb.git(work, ['push', 'origin', 'main']);
      assert.notEqual(push.code, 0, describeRun('git push', push));
      assert.match(push.stderr, /not set up/);
      assert.equal(server.objects.size, 0);
    } finally {
      await server.close();
    }
  });

  it('install --remove removes exactly what install wrote', async () => {
    // A key of the user's own, added after install, stays.
    await sb.gitOk(sb.root, ['config', '--global', 'lfs.customtransfer.other.path', '/bin/other']);
    const r = await sb.bridge(sb.root, ['install', '--remove']);
    assert.equal(r.code, 0, describeRun('install --remove', r));
    assert.match(r.stdout, /Removed from .*lfs\.https:\/\/lfs-bridge\.invalid\/\.standalonetransferagent/);
    assert.equal(
      (await gitconfig()).replace('[lfs "customtransfer.other"]\n\tpath = /bin/other\n', ''),
      gitconfigBefore,
    );
    const again = await sb.bridge(sb.root, ['install', '--remove']);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /Nothing to remove/);
    const keys = (await sb.gitOk(sb.root, ['config', '--global', '--list'])).stdout;
    assert.doesNotMatch(keys, new RegExp(SCOPED.replace(/[./]/g, '\\$&')));
    // A clone that relied on it: status names the fix and exits 1.
    const { remote } = await sharedLocalRepo('uninstalled');
    const dir = await sb.clone(remote, 'uninstalled-clone');
    const status = await sb.bridge(dir, ['status']);
    assert.equal(status.code, 1, describeRun('status', status));
    assert.match(status.stdout, /lfs-bridge install has not run on this machine: run lfs-bridge install/);
  });

  describe('without install: setup finishes a clone whose checkout failed', () => {
    for (const shared of ['.lfs-bridge', 'lfs.url only'] as const) {
      it(`a plain clone fails at checkout; lfs-bridge setup leaves the files checked out and a clean status (${shared})`, async () => {
        const { remote, work, objs } = await sharedLocalRepo(`failed-${shared === '.lfs-bridge' ? 'team' : 'url'}`);
        if (shared !== '.lfs-bridge') {
          await sb.gitOk(work, ['rm', '-q', '.lfs-bridge']);
          await sb.gitOk(work, ['commit', '-qm', 'only .lfsconfig']);
          await sb.gitOk(work, ['push', '-q', 'origin', 'main']);
        }
        const dir = sb.path(`${work}-clone`.slice(sb.root.length + 1));
        const clone = await sb.git(sb.root, ['clone', remote, dir]);
        assert.equal(clone.code, 128, describeRun('git clone', clone));
        assert.match(clone.stderr, /Clone succeeded, but checkout failed/);
        // The README's remedy: lfs-bridge setup (git lfs pull after it changes nothing).
        const setup = await sb.bridge(dir, ['setup']);
        assert.equal(setup.code, 0, describeRun('lfs-bridge setup', setup));
        assert.match(setup.stdout, /finished the checkout/);
        await expectFiles(dir, objs, work);
        assert.equal(await porcelain(dir), '');
        const pull = await sb.git(dir, ['lfs', 'pull']);
        assert.equal(pull.code, 0, describeRun('git lfs pull', pull));
        assert.equal(await porcelain(dir), '');
      });
    }

    it('an object missing from the store: setup is done, and says which fetch failed and what to run after', async () => {
      const { remote, store, objs } = await sharedLocalRepo('failed-missing');
      await rm(objectPath(store, objs[1].oid));
      const dir = sb.path('failed-missing-clone');
      assert.equal((await sb.git(sb.root, ['clone', remote, dir])).code, 128);
      const setup = await sb.bridge(dir, ['setup']);
      assert.notEqual(setup.code, 0, describeRun('setup', setup));
      const said = setup.stderr.replace(/\s+/g, ' ');
      assert.match(said, /set up, but fetching its LFS files failed: .*git checkout -- :\//);
      assert.match(said, new RegExp(objs[1].oid.slice(0, 7)), 'git-lfs names the object');
      assert.equal((await sb.gitOk(dir, ['config', '--get', 'lfs-bridge.provider'])).stdout.trim(), 'local');
    });

    it('setup in a clone whose checkout worked changes no file', async () => {
      const { remote, store } = await sharedLocalRepo('fine');
      const dir = await sb.clone(remote, 'fine-clone');
      const before = await porcelain(dir);
      const setup = await sb.bridge(dir, ['setup', '--provider', 'local', '--root', store]);
      assert.equal(setup.code, 0, describeRun('setup', setup));
      assert.doesNotMatch(setup.stdout, /finished the checkout/);
      assert.equal(await porcelain(dir), before);
    });
  });
});
