/**
 * Dropbox end to end: real git + git-lfs + the agent + the real keychain (resume records) against the project's
 * fake Dropbox API. Access comes from LFS_BRIDGE_DROPBOX_TOKEN here; login flows are tested in login.test.ts.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { sizeOf } from '../../src/fsutil.js';
import { type FakeDropbox, startFakeDropbox } from '../fakes/dropbox/server.js';
import { MiB, sha256, writeRandomFile } from '../helpers/files.js';
import { requireThrowawayKeyring } from '../helpers/keyring-guard.js';
import { descendants, killAgentsWhen, sleep } from '../helpers/proc.js';
import { startProxy } from '../helpers/proxy.js';
import { describeRun } from '../helpers/run.js';
import { Sandbox } from '../helpers/sandbox.js';

const dbxPath = (oid: string) => `/lfs/repo/${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`;
const CHUNK = 8 * MiB;

describe('e2e: dropbox provider against the fake API', function () {
  this.timeout(240_000);
  let fake: FakeDropbox;
  let sb: Sandbox;
  let token: string;
  let env: Record<string, string>;

  // The agents keep upload resume records in the keychain, and one test stores a login there.
  before(requireThrowawayKeyring);

  beforeEach(async () => {
    fake = await startFakeDropbox();
    sb = await Sandbox.create('dbx');
    token = fake.issueToken().access;
    env = { LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url, LFS_BRIDGE_DROPBOX_TOKEN: token };
  });
  afterEach(async () => {
    await fake.close();
    await sb.cleanup();
  });

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

  const sessionBytes = () => Object.values(fake.counters.bytesInBySession).reduce((a, b) => a + b, 0);

  it('pushes, clones and pulls 0 B, 1 B, 5 MiB and 150 MiB objects byte for byte; re-push sends nothing', async () => {
    const remote = await sb.remote();
    const work = await repo('work', remote);
    const files = [
      await writeRandomFile(join(work, 'empty.dat'), 0),
      await writeRandomFile(join(work, 'one.dat'), 1),
      await writeRandomFile(join(work, 'five.dat'), 5 * MiB),
      await writeRandomFile(join(work, 'big.dat'), 150 * MiB),
    ];
    await sb.gitOk(work, ['add', '.']);
    await sb.gitOk(work, ['commit', '-qm', 'objects']);
    const push = await sb.git(work, ['push', '-q', 'origin', 'main'], env);
    assert.equal(push.code, 0, describeRun('push', push));
    for (const f of files.filter((f) => f.size > 0)) {
      assert.ok(fake.files.get(dbxPath(f.oid))?.equals(await readFile(f.path)), `stored ${f.size}`);
    }
    fake.counters.reset();
    const again = await sb.git(work, ['lfs', 'push', '--all', 'origin'], env);
    assert.equal(again.code, 0, describeRun('re-push', again));
    assert.equal(
      Object.values(fake.counters.bytesInByPath).reduce((a, b) => a + b, 0),
      0,
      're-push sent content',
    );

    const clone = await sb.bridge(sb.root, ['clone', remote, 'copy'], env);
    assert.equal(clone.code, 0, describeRun('lfs-bridge clone', clone));
    for (const f of files) {
      const got = await readFile(sb.path('copy', f.path.split('/').pop() as string));
      assert.equal(sha256(got), f.oid, `pulled ${f.size}`);
    }
  });

  it('pushes and pulls through HTTP_PROXY: every request of the agent, large downloads included, goes through it', async () => {
    const proxy = await startProxy();
    try {
      const viaProxy = { ...env, HTTP_PROXY: proxy.url };
      const remote = await sb.remote();
      const work = await repo('work', remote);
      const big = await writeRandomFile(join(work, 'big.dat'), 12 * MiB); // a session upload, a large range
      await sb.gitOk(work, ['add', '.']);
      await sb.gitOk(work, ['commit', '-qm', 'big']);
      const push = await sb.git(work, ['push', '-q', 'origin', 'main'], viaProxy);
      assert.equal(push.code, 0, describeRun('push', push));
      assert.ok(proxy.seen.length > 0, 'the push went through the proxy');
      assert.ok(fake.files.get(dbxPath(big.oid))?.equals(await readFile(big.path)));
      const before = proxy.tunnelled();
      await sb.gitOk(sb.root, ['clone', '-q', remote, 'copy'], { GIT_LFS_SKIP_SMUDGE: '1' });
      const copy = sb.path('copy');
      await sb.bridgeOk(copy, ['setup'], env);
      const pull = await sb.git(copy, ['lfs', 'pull'], viaProxy);
      assert.equal(pull.code, 0, describeRun('pull', pull));
      assert.equal(sha256(await readFile(join(copy, 'big.dat'))), big.oid);
      assert.ok(proxy.tunnelled() - before >= big.size, `the proxy carried ${proxy.tunnelled() - before} bytes`);
    } finally {
      proxy.server.closeAllConnections();
      await new Promise((r) => proxy.server.close(r));
    }
  });

  for (const streams of [4, 1])
    it(`resumes a push after kill -9 of the agent, re-sending at most two chunks (${streams > 1 ? 'pieces' : 'a session in order'})`, async () => {
      const remote = await sb.remote();
      const work = await repo('work', remote);
      await sb.gitOk(work, ['config', 'lfs-bridge.maxrate', '30MiB']);
      await sb.gitOk(work, ['config', 'lfs-bridge.uploadstreams', String(streams)]);
      const big = await writeRandomFile(join(work, 'big.dat'), 120 * MiB);
      await sb.gitOk(work, ['add', '.']);
      await sb.gitOk(work, ['commit', '-qm', 'big']);
      const killer = killAgentsWhen(() => sessionBytes() >= 40 * MiB);
      const first = await sb.git(work, ['push', '-q', 'origin', 'main'], env, { onSpawn: killer.onSpawn });
      assert.ok(killer.killed(), 'the agent was killed mid-upload');
      assert.notEqual(first.code, 0);
      const sentBefore = sessionBytes();
      const second = await sb.git(work, ['push', '-q', 'origin', 'main'], env);
      assert.equal(second.code, 0, describeRun('second push', second));
      assert.ok(fake.files.get(dbxPath(big.oid))?.equals(await readFile(big.path)));
      const total = sessionBytes();
      assert.ok(
        total <= big.size + 2 * CHUNK,
        `sent ${total} bytes in all for ${big.size} (before kill ${sentBefore})`,
      );
      // In pieces: one concurrent session, continued from its keychain record; in order: none.
      assert.equal(fake.counters.concurrentSessions, streams > 1 ? 1 : 0);
    });

  it('resumes a pull after kill -9 of the agent, fetching at most two segments again', async () => {
    const remote = await sb.remote();
    const work = await repo('work', remote);
    const big = await writeRandomFile(join(work, 'big.dat'), 100 * MiB);
    const small = await writeRandomFile(join(work, 'small.dat'), 3 * MiB);
    await sb.gitOk(work, ['add', '.']);
    await sb.gitOk(work, ['commit', '-qm', 'big']);
    await sb.gitOk(work, ['push', '-q', 'origin', 'main'], env);

    await sb.gitOk(sb.root, ['clone', '-q', remote, 'copy'], { GIT_LFS_SKIP_SMUDGE: '1' });
    const copy = sb.path('copy');
    await sb.bridgeOk(copy, ['setup'], env);
    await sb.gitOk(copy, ['config', 'lfs-bridge.maxrate', '30MiB']);
    fake.counters.reset();
    const sent = () => fake.counters.bytesOutByPath[dbxPath(big.oid).toLowerCase()] ?? 0;
    const killer = killAgentsWhen(() => sent() >= 30 * MiB);
    await sb.git(copy, ['lfs', 'pull'], env, { onSpawn: killer.onSpawn });
    assert.ok(killer.killed(), 'the agent was killed mid-download');
    const before = sent();
    // What the agent had received when it died: bytes the fake counted as sent but that were still in the
    // kernel's socket buffers (on loopback they grow to tens of MiB) never reached it, and are fetched again.
    // A segmented partial may have holes: its sidecar says how much of it is there (the file's length does not).
    const part = join(copy, '.git', 'lfs', 'incomplete', 'lfs-bridge', `${big.oid}.part`);
    const state = JSON.parse(await readFile(part.replace(/\.part$/, '.state'), 'utf8').catch(() => '{}'));
    const received = Array.isArray(state.segments)
      ? (state.segments as { done: number }[]).reduce((n, x) => n + x.done, 0)
      : await sizeOf(part);
    assert.ok(received >= 8 * MiB, `the first pull had written ${received} bytes`);
    await sb.gitOk(copy, ['config', '--unset', 'lfs-bridge.maxrate']);
    const second = await sb.git(copy, ['lfs', 'pull'], env);
    assert.equal(second.code, 0, describeRun('second pull', second));
    assert.equal(sha256(await readFile(join(copy, 'big.dat'))), big.oid);
    assert.equal(sha256(await readFile(join(copy, 'small.dat'))), small.oid);
    const resent = sent() - before;
    assert.ok(
      resent <= big.size - received + 2 * 8 * MiB,
      `second pull fetched ${resent} of ${big.size} (had received ${received}; the fake had sent ${before})`,
    );
  });

  it('survives resets, 429, 5xx and corrupted bytes with no corrupted object', async () => {
    const remote = await sb.remote();
    const work = await repo('work', remote);
    const files = await Promise.all([20, 12, 3, 1].map((m, i) => writeRandomFile(join(work, `f${i}.dat`), m * MiB)));
    await sb.gitOk(work, ['add', '.']);
    await sb.gitOk(work, ['commit', '-qm', 'faults']);
    const rl = (route: string) => ({
      route,
      action: {
        kind: 'status' as const,
        status: 429,
        headers: { 'retry-after': '1', 'content-type': 'application/json' },
        body: '{"error_summary":"too_many_requests/..","error":{"reason":{".tag":"too_many_requests"},"retry_after":1}}',
      },
    });
    fake.faults.add({
      route: '/2/files/upload_session/append_v2',
      skip: 1,
      action: { kind: 'reset', afterBytes: 2 * MiB },
    });
    fake.faults.add(rl('/2/files/upload_session/append_v2'));
    fake.faults.add({ route: '/2/files/upload_session/finish', action: { kind: 'status', status: 503 } });
    fake.faults.add({ route: '/2/files/upload', action: { kind: 'status', status: 500 } });
    fake.faults.add({ route: '/2/files/get_metadata', skip: 2, action: { kind: 'reset', afterBytes: 0 } });
    const push = await sb.git(work, ['push', '-q', 'origin', 'main'], env);
    assert.equal(push.code, 0, describeRun('push through faults', push));
    for (const f of files) assert.ok(fake.files.get(dbxPath(f.oid))?.equals(await readFile(f.path)));

    await sb.gitOk(sb.root, ['clone', '-q', remote, 'copy'], { GIT_LFS_SKIP_SMUDGE: '1' });
    const copy = sb.path('copy');
    await sb.bridgeOk(copy, ['setup'], env);
    fake.faults.add({ route: '/link/*', action: { kind: 'reset', afterBytes: 5 * MiB } });
    fake.faults.add({ route: '/link/*', action: { kind: 'corrupt', byteIndex: 4096 } });
    fake.faults.add(rl('/2/files/get_temporary_link'));
    fake.faults.add({ route: '/link/*', action: { kind: 'status', status: 503 } });
    const pull = await sb.git(copy, ['lfs', 'pull'], env);
    assert.equal(pull.code, 0, describeRun('pull through faults', pull));
    for (const f of files) assert.equal(sha256(await readFile(join(copy, f.path.split('/').pop() as string))), f.oid);
    assert.ok(fake.counters.faults >= 9, `faults applied: ${fake.counters.faults}`);
  });

  it('8 agent processes meeting an expired access token refresh it once; status shows the account and its space', async () => {
    // A login as `lfs-bridge login dropbox` leaves it: tokens in the real keychain, nothing in the environment.
    const { openSecretStore, resetSecretStore } = await import('../../src/keychain/index.js');
    resetSecretStore();
    const store = await openSecretStore({ env: sb.env });
    const account = 'default@example.com';
    const issued = fake.issueToken();
    const key = `token:dropbox:${account}`;
    await store.set(
      key,
      JSON.stringify({
        access: issued.access,
        refresh: issued.refresh,
        expiresAt: Date.now() + 3600_000,
        account,
        email: account,
        displayName: 'Default User',
        clientId: 'test-app-key',
        endpoint: fake.url, // logged in under the override the agents then use
      }),
    );
    try {
      const keychainEnv = { LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url };
      const remote = await sb.remote();
      const work = await repo('work', remote);
      await sb.gitOk(work, ['config', 'lfs.concurrenttransfers', '8']);
      const files = await Promise.all(
        Array.from({ length: 16 }, (_, i) => writeRandomFile(join(work, `o${i}.dat`), (i + 1) * 64 * 1024)),
      );
      await sb.gitOk(work, ['add', '.']);
      await sb.gitOk(work, ['commit', '-qm', 'sixteen']);
      fake.expireAccessTokens();
      fake.counters.reset();
      const push = await sb.git(work, ['push', '-q', 'origin', 'main'], keychainEnv);
      assert.equal(push.code, 0, describeRun('push with an expired token', push));
      assert.equal(fake.counters.refreshes, 1, 'one refresh for all agent processes');
      for (const f of files) assert.ok(fake.files.get(dbxPath(f.oid)));
      const status = await sb.bridgeOk(work, ['status', '--json'], keychainEnv);
      const info = JSON.parse(status.stdout);
      const row = info.accounts.find((a: { account: string }) => a.account === account);
      assert.equal(row.displayName, 'Default User');
      assert.equal(typeof row.used, 'number');
      assert.ok(row.used >= files.reduce((n, f) => n + f.size, 0));
      assert.equal(info.wiring.effective, true);
      const text = await sb.bridgeOk(work, ['status'], keychainEnv);
      assert.match(text.stdout, /dropbox:default@example.com {2}Default User/);
      assert.match(text.stdout, /used of/);
    } finally {
      await store.delete(key);
    }
  });

  it('shares a team folder by its namespace, so members who mount it at different paths see the same objects', async () => {
    const ns = fake.createSharedNamespace('Team Assets');
    fake.mountShared('alice', '/Team Assets', ns);
    fake.mountShared('bob', '/Work/Team Assets (1)', ns);
    const alice = {
      LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url,
      LFS_BRIDGE_DROPBOX_TOKEN: fake.issueToken({ account: 'alice' }).access,
    };
    const bob = {
      LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url,
      LFS_BRIDGE_DROPBOX_TOKEN: fake.issueToken({ account: 'bob' }).access,
    };
    const remote = await sb.remote();
    const work = sb.path('alice');
    await sb.gitOk(sb.root, ['init', '-q', work]);
    await sb.gitOk(work, ['remote', 'add', 'origin', remote]);
    const setup = await sb.bridgeOk(
      work,
      ['setup', '--provider', 'dropbox', '--root', '/Team Assets/lfs', '--shared'],
      alice,
    );
    assert.match(setup.stdout, /shared folder/);
    const teamFile = await readFile(join(work, '.lfs-bridge'), 'utf8');
    assert.match(teamFile, new RegExp(`root = ns:${ns}/lfs`));
    await sb.gitOk(work, ['lfs', 'track', '*.dat']);
    const f = await writeRandomFile(join(work, 'art.dat'), 6 * MiB);
    await sb.gitOk(work, ['add', '.']);
    await sb.gitOk(work, ['commit', '-qm', 'art']);
    await sb.gitOk(work, ['push', '-q', 'origin', 'main'], alice);
    assert.ok(
      fake.files.get(`/lfs/${f.oid.slice(0, 2)}/${f.oid.slice(2, 4)}/${f.oid}`, ns)?.equals(await readFile(f.path)),
    );
    const clone = await sb.bridge(sb.root, ['clone', remote, 'bob'], bob);
    assert.equal(clone.code, 0, describeRun('bob clones', clone));
    assert.equal(sha256(await readFile(sb.path('bob', 'art.dat'))), f.oid);
  });

  it('team-space members: push and pull through a team folder of the team space, and their own folder', async () => {
    // Team space (Dropbox's team files guide): root namespace ≠ home namespace; the team folder lives in the team
    // root, beside each member's folder, and is reached only with Dropbox-API-Path-Root.
    const space = fake.createTeamSpace('Acme');
    const eng = fake.createTeamFolder(space, 'Engineering');
    fake.joinTeamSpace('tess', space, 'Tess Tester');
    fake.joinTeamSpace('theo', space, 'Theo Tester');
    const as = (account: string) => ({
      LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url,
      LFS_BRIDGE_DROPBOX_TOKEN: fake.issueToken({ account }).access,
    });
    const tess = as('tess');
    const remote = await sb.remote();
    const work = sb.path('tess');
    await sb.gitOk(sb.root, ['init', '-q', work]);
    await sb.gitOk(work, ['remote', 'add', 'origin', remote]);
    await sb.bridgeOk(work, ['setup', '--provider', 'dropbox', '--root', '/Engineering/lfs', '--shared'], tess);
    assert.match(await readFile(join(work, '.lfs-bridge'), 'utf8'), new RegExp(`root = ns:${eng}/lfs`));
    await sb.gitOk(work, ['lfs', 'track', '*.dat']);
    const small = await writeRandomFile(join(work, 'small.dat'), 2 * MiB); // files/upload
    const big = await writeRandomFile(join(work, 'big.dat'), 21 * MiB); // a concurrent session
    await sb.gitOk(work, ['add', '.']);
    await sb.gitOk(work, ['commit', '-qm', 'team objects']);
    const push = await sb.git(work, ['push', '-q', 'origin', 'main'], tess);
    assert.equal(push.code, 0, describeRun('push', push));
    const key = (oid: string) => `/lfs/${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`;
    for (const f of [small, big]) {
      assert.ok(fake.files.get(key(f.oid), eng)?.equals(await readFile(f.path)), 'in the team folder');
    }
    assert.deepEqual(fake.files.list(fake.account('tess').home_namespace_id), [], 'nothing in the home folder');
    const clone = await sb.bridge(sb.root, ['clone', remote, 'theo'], as('theo'));
    assert.equal(clone.code, 0, describeRun('theo clones', clone));
    for (const f of [small, big]) assert.equal(sha256(await readFile(sb.path('theo', basename(f.path)))), f.oid);

    // a root in the member's own folder, as the team space shows it: the home namespace
    const own = sb.path('own');
    await sb.gitOk(sb.root, ['init', '-q', own]);
    await sb.bridgeOk(own, ['setup', '--provider', 'dropbox', '--root', '/Tess Tester/lfs'], tess);
    await sb.gitOk(own, ['lfs', 'track', '*.dat']);
    const mine = await writeRandomFile(join(own, 'mine.dat'), 1 * MiB);
    await sb.gitOk(own, ['remote', 'add', 'origin', await sb.remote('own.git')]);
    await sb.gitOk(own, ['add', '.']);
    await sb.gitOk(own, ['commit', '-qm', 'mine']);
    const push2 = await sb.git(own, ['push', '-q', 'origin', 'main'], tess);
    assert.equal(push2.code, 0, describeRun('push', push2));
    const home = fake.account('tess').home_namespace_id;
    assert.equal((await sb.gitOk(own, ['config', 'lfs-bridge.root'])).stdout.trim(), '/Tess Tester/lfs');
    assert.ok(fake.files.get(key(mine.oid), home)?.equals(await readFile(mine.path)), 'in the home folder');
  });

  it('never lets the token reach stdout, stderr, argv or git config', async () => {
    const remote = await sb.remote();
    const work = await repo('work', remote);
    await writeRandomFile(join(work, 'a.dat'), 2 * MiB);
    await sb.gitOk(work, ['add', '.']);
    await sb.gitOk(work, ['commit', '-qm', 'a']);
    const traceFile = sb.path('trace.log');
    const logFile = sb.path('bridge.log');
    fake.faults.add({ route: '/2/files/get_metadata', action: { kind: 'status', status: 503 } });
    const argvs: string[] = [];
    const push = await sb.git(
      work,
      ['push', 'origin', 'main'],
      { ...env, GIT_TRACE: traceFile, GIT_TRANSFER_TRACE: '1', LFS_BRIDGE_DEBUG: '1', LFS_BRIDGE_LOG: logFile },
      {
        // Sample the command lines of git, git-lfs and every agent process while the push runs.
        onSpawn: (child) => {
          void (async () => {
            while (child.exitCode === null) {
              for (const p of await descendants(child.pid as number)) argvs.push(p.args.join(' '));
              await sleep(10);
            }
          })();
        },
      },
    );
    assert.ok(
      argvs.some((a) => a.includes('transfer')),
      'the agent command lines were sampled',
    );
    assert.ok(!argvs.some((a) => a.includes(token)), 'token in a command line');
    assert.equal(push.code, 0, describeRun('push', push));
    const config = await sb.gitOk(work, ['config', '--list']);
    const texts = [push.output, await readFile(traceFile, 'utf8'), await readFile(logFile, 'utf8'), config.stdout];
    for (const t of texts) assert.ok(!t.includes(token), 'token leaked');
    await writeFile(sb.path('ok'), '');
  });
});
