import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BridgeError } from '../../../src/errors.js';
import {
  configDir,
  FileStore,
  openSecretStore,
  probeKeychain,
  resetSecretStore,
  SERVICE,
  type SecretStore,
  stateDir,
} from '../../../src/keychain/index.js';
import { requireThrowawayKeyring } from '../../helpers/keyring-guard.js';
import { itWhere } from '../../helpers/platform.js';

const keychainModule = fileURLToPath(new URL('../../../src/keychain/index.ts', import.meta.url));

/** Runs openSecretStore() in a child node with `env`, returning what it printed (JSON). */
function openInChild(env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  const script = `
    import { openSecretStore } from ${JSON.stringify(keychainModule)};
    try {
      const s = await openSecretStore();
      await s.set('probe:child', 'secret-value');
      console.log(JSON.stringify({ ok: true, kind: s.kind, path: s.path, got: await s.get('probe:child') }));
    } catch (e) {
      console.log(JSON.stringify({ ok: false, name: e.name, kind: e.kind, code: e.code, message: e.message }));
    }`;
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { env, timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`child failed: ${err.message}\n${stderr}`));
        try {
          resolve(JSON.parse(stdout.trim().split('\n').at(-1) ?? ''));
        } catch {
          reject(new Error(`child printed ${stdout}\n${stderr}`));
        }
      },
    );
  });
}

/** process.env without a session bus, keychain opt-in or helper-set XDG dirs. */
function busless(runtime: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ['DBUS_SESSION_BUS_ADDRESS', 'LFS_BRIDGE_INSECURE_STORAGE', 'GNOME_KEYRING_CONTROL']) delete env[k];
  return { ...env, XDG_RUNTIME_DIR: runtime, ...extra };
}

describe('keychain', () => {
  // The real OS keychain is written, and even the "no keychain" cases would open the one this process reaches.
  before(requireThrowawayKeyring);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lfsb-keychain-'));
    resetSecretStore();
  });
  afterEach(async () => {
    resetSecretStore();
    await rm(dir, { recursive: true, force: true });
  });

  itWhere(process.platform === 'linux', 'Linux', 'configDir / stateDir follow XDG on Linux', () => {
    assert.equal(configDir({ XDG_CONFIG_HOME: '/c' }), '/c/lfs-bridge');
    assert.equal(stateDir({ XDG_STATE_HOME: '/s' }), '/s/lfs-bridge');
  });

  describe('the real OS keychain (run under scripts/with-keychain.sh)', () => {
    const run = `test-${process.pid}-${randomBytes(4).toString('hex')}`;
    let store: SecretStore | undefined;
    after(async () => {
      if (!store) return;
      for (const { account } of await store.list(`${run}:`)) await store.delete(account);
    });

    it('probeKeychain answers null inside the session', async () => {
      assert.equal(await probeKeychain(), null);
    });

    it(`set / get / list / delete round trip under the service "${SERVICE}"`, async () => {
      store = await openSecretStore({ env: process.env });
      assert.equal(store.kind, 'keychain');
      const a = `${run}:token:dropbox:me`;
      const b = `${run}:resume:dropbox:me:x`;
      assert.equal(await store.get(a), null);
      await store.set(a, 'access-1');
      await store.set(b, JSON.stringify({ session: 'https://x/y?upload_id=z' }));
      assert.equal(await store.get(a), 'access-1');
      await store.set(a, 'access-2'); // overwrite
      assert.equal(await store.get(a), 'access-2');
      const listed = await store.list(`${run}:`);
      assert.deepEqual(listed.map((e) => e.account).sort(), [b, a].sort());
      assert.deepEqual(
        (await store.list(`${run}:resume:`)).map((e) => e.account),
        [b],
      );
      assert.equal(await store.delete(a), true);
      assert.equal(await store.get(a), null);
      assert.equal(await store.delete(a), false, 'deleting a missing entry');
      assert.equal(await store.delete(b), true);
      assert.deepEqual(await store.list(`${run}:`), []);
    });

    it('the store is opened once per process (cached)', async () => {
      const a = await openSecretStore({ env: process.env });
      const b = await openSecretStore({ env: process.env });
      assert.equal(a, b);
    });
  });

  describe('without a keychain', () => {
    it('openSecretStore() is a Config error naming both fixes', async () => {
      const runtime = join(dir, 'run');
      await mkdir(runtime, { mode: 0o700 });
      const got = await openInChild(busless(runtime, { XDG_CONFIG_HOME: join(dir, 'config') }));
      assert.equal(got.ok, false, JSON.stringify(got));
      assert.equal(got.kind, 'Config');
      assert.equal(got.code, 400);
      const msg = String(got.message);
      assert.match(msg, /Secret Service/);
      assert.match(msg, /dbus-run-session/);
      assert.match(msg, /--insecure-storage/);
      assert.match(msg, /LFS_BRIDGE_INSECURE_STORAGE=1/);
    });

    it('LFS_BRIDGE_INSECURE_STORAGE=1 uses the FileStore, file mode 0600', async () => {
      const runtime = join(dir, 'run');
      await mkdir(runtime, { mode: 0o700 });
      const config = join(dir, 'config');
      const got = await openInChild(busless(runtime, { XDG_CONFIG_HOME: config, LFS_BRIDGE_INSECURE_STORAGE: '1' }));
      assert.equal(got.ok, true, JSON.stringify(got));
      assert.equal(got.kind, 'file');
      assert.equal(got.got, 'secret-value');
      const file = join(config, 'lfs-bridge', 'secrets.json');
      assert.equal(got.path, file);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.equal((await stat(join(config, 'lfs-bridge'))).mode & 0o777, 0o700);
      assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { 'probe:child': 'secret-value' });
    });

    it('in process: the insecure opt-in (env or flag) returns a FileStore under the config dir', async () => {
      const env = { XDG_CONFIG_HOME: join(dir, 'cfg'), LFS_BRIDGE_INSECURE_STORAGE: '1' };
      const s = await openSecretStore({ env });
      assert.ok(s instanceof FileStore);
      assert.equal(s.path, join(dir, 'cfg', 'lfs-bridge', 'secrets.json'));
      resetSecretStore();
      const t = await openSecretStore({ env: { XDG_CONFIG_HOME: join(dir, 'cfg2') }, insecure: true });
      assert.equal(t.kind, 'file');
      resetSecretStore();
      const f = await openSecretStore({
        env: { ...process.env, XDG_CONFIG_HOME: join(dir, 'cfg3'), LFS_BRIDGE_INSECURE_STORAGE: '0' },
      }).catch((e) => e);
      assert.ok(f instanceof BridgeError || f.kind === 'keychain', '"0" is not an opt-in');
    });
  });

  describe('FileStore', () => {
    it('get / set / delete / list, atomically, mode 0600', async () => {
      const path = join(dir, 'sub', 'secrets.json');
      const s = new FileStore(path);
      assert.equal(await s.get('a'), null);
      assert.equal(await s.delete('a'), false);
      await s.set('token:a', '1');
      await s.set('resume:b', '2');
      await s.set('resume:c', '3');
      assert.equal(await s.get('token:a'), '1');
      assert.deepEqual(await s.list('resume:'), [
        { account: 'resume:b', secret: '2' },
        { account: 'resume:c', secret: '3' },
      ]);
      assert.equal(await s.delete('resume:b'), true);
      assert.deepEqual(
        (await s.list('')).map((e) => e.account),
        ['token:a', 'resume:c'],
      );
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      const leftovers = (await readdir(join(dir, 'sub'))).filter((n) => n !== 'secrets.json');
      assert.deepEqual(leftovers, [], 'no temp files left');
    });
  });
});
