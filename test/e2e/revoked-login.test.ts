/**
 * A Dropbox login revoked in the middle of a push (real git + git-lfs + agents, tokens in the real keychain, the
 * fake Dropbox): the push fails saying to log in again, and the agents stop asking — the requests after the
 * revocation are counted at the fake, and stay a few per agent process however many objects are left.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { type FakeDropbox, startFakeDropbox } from '../fakes/dropbox/server.js';
import { MiB, writeRandomFile } from '../helpers/files.js';
import { requireThrowawayKeyring } from '../helpers/keyring-guard.js';
import { sleep } from '../helpers/proc.js';
import { describeRun } from '../helpers/run.js';
import { Sandbox } from '../helpers/sandbox.js';

const ACCOUNT = 'default@example.com';
const AGENTS = 3;
const OBJECTS = 24;

describe('e2e: a Dropbox login revoked during a push', function () {
  this.timeout(240_000);
  let fake: FakeDropbox;
  let sb: Sandbox;
  let forget: () => Promise<void>;
  let revoke: () => Promise<void>;

  before(requireThrowawayKeyring);
  beforeEach(async () => {
    fake = await startFakeDropbox();
    sb = await Sandbox.create('revoked');
    // As `lfs-bridge login dropbox` leaves it: tokens in the keychain, nothing in the environment.
    const { openSecretStore, resetSecretStore } = await import('../../src/keychain/index.js');
    resetSecretStore();
    const store = await openSecretStore({ env: sb.env });
    const issued = fake.issueToken();
    const key = `token:dropbox:${ACCOUNT}`;
    await store.set(
      key,
      JSON.stringify({
        access: issued.access,
        refresh: issued.refresh,
        expiresAt: Date.now() + 3600_000,
        account: ACCOUNT,
        email: ACCOUNT,
        displayName: 'Default User',
        clientId: 'test-app-key',
        endpoint: fake.url, // made under the override the test runs with (a login is only used where it was made)
      }),
    );
    forget = async () => {
      await store.delete(key);
    };
    revoke = async () => {
      const r = await fetch(`${fake.url}/2/auth/token/revoke`, {
        method: 'POST',
        headers: { authorization: `Bearer ${issued.access}` },
      });
      assert.equal(r.status, 200);
    };
  });
  afterEach(async () => {
    await forget();
    await fake.close();
    await sb.cleanup();
  });

  const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

  for (const how of ['the app is disconnected (tokens revoked)', 'the refresh answers invalid_grant'] as const)
    it(`${how}: the push fails with "log in again", without a retry storm`, async () => {
      const env = { LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url };
      const remote = await sb.remote();
      const work = sb.path('work');
      await sb.gitOk(sb.root, ['init', '-q', work]);
      await sb.gitOk(work, ['remote', 'add', 'origin', remote]);
      await sb.bridgeOk(work, ['setup', '--provider', 'dropbox', '--root', '/lfs/repo'], env);
      await sb.gitOk(work, ['config', 'lfs.concurrenttransfers', String(AGENTS)]);
      await sb.gitOk(work, ['lfs', 'track', '*.dat']);
      for (let i = 0; i < OBJECTS; i++) await writeRandomFile(join(work, `o${i}.dat`), 2 * MiB);
      await sb.commitAll(work, 'objects');
      fake.setUploadThrottle(4 * MiB); // each object takes ~0.5 s: the push is still young when the login goes

      const pushing = sb.git(work, ['push', '-q', 'origin', 'main'], env);
      while (total(fake.counters.snapshot().bytesIn) < 3 * MiB) await sleep(20);
      if (how === 'the refresh answers invalid_grant') {
        fake.faults.add({
          route: '/oauth2/token',
          times: 1000,
          action: {
            kind: 'status',
            status: 400,
            body: '{"error":"invalid_grant","error_description":"refresh token is invalid or revoked"}',
          },
        });
        fake.expireAccessTokens();
      } else {
        await revoke();
      }
      const before = fake.counters.snapshot();
      const stored = fake.files.list().length;
      const push = await pushing;
      const after = fake.counters.snapshot();

      assert.notEqual(push.code, 0, describeRun('push', push));
      assert.ok(stored < OBJECTS, 'the login went before the push was done');
      const asked = total(after.requests) - total(before.requests);
      const refreshes = (after.requests['/oauth2/token'] ?? 0) - (before.requests['/oauth2/token'] ?? 0);
      // Each agent may meet the dead login once (an object in flight, a refresh); no agent asks again.
      assert.ok(asked <= 3 * AGENTS, `${asked} requests after the revocation (${OBJECTS - stored} objects left)`);
      assert.ok(refreshes <= AGENTS, `${refreshes} refresh attempts`);
      assert.match(push.stderr, /log in again/, push.stderr.split('\n')[0]);
      assert.match(push.stderr, /lfs-bridge login dropbox/);
    });
});
