/**
 * Non-ASCII and emoji in roots and team-folder names, end to end (real git + git-lfs + the agent): a local store and
 * work trees under such paths; a Dropbox root and a shared folder named so. Dropbox-API-Arg must be ASCII (JSON
 * with \uXXXX escapes): the fake refuses a raw non-ASCII header as Dropbox does, so a regression fails here.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type FakeDropbox, startFakeDropbox } from '../fakes/dropbox/server.js';
import { MiB, sha256, writeRandomFile } from '../helpers/files.js';
import { describeRun } from '../helpers/run.js';
import { Sandbox } from '../helpers/sandbox.js';

const NAME = 'Café é 日本 🎉';

describe('e2e: non-ASCII and emoji in roots and folder names', function () {
  this.timeout(240_000);
  let sb: Sandbox;
  beforeEach(async () => {
    sb = await Sandbox.create('nonascii');
  });
  afterEach(() => sb.cleanup());

  it(`local: a store and work trees under "${NAME}" push, clone and pull byte for byte`, async () => {
    const remote = await sb.remote();
    const store = await sb.store(`store ${NAME}`);
    const work = await sb.workRepo(`work ${NAME}`, remote, store);
    const files = [
      await writeRandomFile(join(work, 'small é.dat'), 100 * 1024),
      await writeRandomFile(join(work, '大きい 🎉.dat'), 9 * MiB),
    ];
    await sb.commitAll(work, 'objects');
    const push = await sb.git(work, ['push', '-q', 'origin', 'main']);
    assert.equal(push.code, 0, describeRun('push', push));
    for (const f of files) {
      const stored = join(store, f.oid.slice(0, 2), f.oid.slice(2, 4), f.oid);
      assert.equal(sha256(await readFile(stored)), f.oid);
    }
    const copy = await sb.clone(remote, `copy ${NAME}`, store);
    const pull = await sb.git(copy, ['lfs', 'pull']);
    assert.equal(pull.code, 0, describeRun('pull', pull));
    for (const f of files) assert.equal(sha256(await readFile(join(copy, f.path.split('/').pop()!))), f.oid);
    assert.deepEqual((await readdir(copy)).filter((n) => n.endsWith('.dat')).sort(), ['small é.dat', '大きい 🎉.dat']);
  });

  describe('dropbox (fake API)', () => {
    let fake: FakeDropbox;
    beforeEach(async () => {
      fake = await startFakeDropbox();
    });
    afterEach(() => fake.close());

    const tokenEnv = (account?: string) => ({
      LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url,
      LFS_BRIDGE_DROPBOX_TOKEN: fake.issueToken({ account }).access,
    });

    it(`a root "/lfs/${NAME}": one-shot and session uploads, then a pull, byte for byte`, async () => {
      const env = tokenEnv();
      const root = `/lfs/${NAME}`;
      const remote = await sb.remote();
      const work = sb.path('work');
      await sb.gitOk(sb.root, ['init', '-q', work]);
      await sb.gitOk(work, ['remote', 'add', 'origin', remote]);
      await sb.bridgeOk(
        work,
        ['setup', '--provider', 'dropbox', '--root', root, '--shared', '--chunk-size', '8MiB'],
        env,
      );
      await sb.gitOk(work, ['lfs', 'track', '*.dat']);
      const small = await writeRandomFile(join(work, 'small.dat'), 512 * 1024); // files/upload
      const big = await writeRandomFile(join(work, 'big.dat'), 20 * MiB); // a session, finish with the path
      await sb.commitAll(work, 'objects');
      const push = await sb.git(work, ['push', '-q', 'origin', 'main'], env);
      assert.equal(push.code, 0, describeRun('push', push));
      for (const f of [small, big]) {
        const path = `${root}/${f.oid.slice(0, 2)}/${f.oid.slice(2, 4)}/${f.oid}`;
        assert.ok(fake.files.get(path)?.equals(await readFile(f.path)), `stored at ${path}`);
        assert.ok(fake.files.list().includes(path), 'the display name keeps its characters');
      }
      const clone = await sb.bridge(sb.root, ['clone', remote, 'copy'], env);
      assert.equal(clone.code, 0, describeRun('clone', clone));
      for (const f of [small, big])
        assert.equal(sha256(await readFile(sb.path('copy', f.path.split('/').pop()!))), f.oid);
    });

    it(`a team folder named "${NAME}", mounted at different paths by two members`, async () => {
      const ns = fake.createSharedNamespace(NAME);
      fake.mountShared('alice', `/${NAME}`, ns);
      fake.mountShared('bob', `/Work/${NAME} (1)`, ns);
      const alice = tokenEnv('alice');
      const bob = tokenEnv('bob');
      const remote = await sb.remote();
      const work = sb.path('alice');
      await sb.gitOk(sb.root, ['init', '-q', work]);
      await sb.gitOk(work, ['remote', 'add', 'origin', remote]);
      const setup = await sb.bridgeOk(
        work,
        ['setup', '--provider', 'dropbox', '--root', `/${NAME}/lfs`, '--shared'],
        alice,
      );
      assert.match(setup.stdout, /shared folder/);
      assert.match(await readFile(join(work, '.lfs-bridge'), 'utf8'), new RegExp(`root = ns:${ns}/lfs`));
      await sb.gitOk(work, ['lfs', 'track', '*.dat']);
      const f = await writeRandomFile(join(work, 'art.dat'), 12 * MiB);
      await sb.commitAll(work, 'art');
      const push = await sb.git(work, ['push', '-q', 'origin', 'main'], alice);
      assert.equal(push.code, 0, describeRun('alice pushes', push));
      assert.ok(fake.files.get(`/lfs/${f.oid.slice(0, 2)}/${f.oid.slice(2, 4)}/${f.oid}`, ns));
      const clone = await sb.bridge(sb.root, ['clone', remote, 'bob'], bob);
      assert.equal(clone.code, 0, describeRun('bob clones', clone));
      assert.equal(sha256(await readFile(sb.path('bob', 'art.dat'))), f.oid);
    });
  });
});
