/**
 * getAccessToken: the cached fresh token, one refresh under the cross-process lock for N processes, rotation,
 * invalid_grant, the env token, account selection.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BridgeError } from '../../../src/errors.js';
import { FileStore, openSecretStore, resetSecretStore } from '../../../src/keychain/index.js';
import {
  forgetCachedTokens,
  getAccessToken,
  listAccounts,
  type OAuthSpec,
  overrideSpec,
  selectAccount,
  type TokenRecord,
} from '../../../src/oauth/index.js';
import { oauthSpec as dropboxOAuth } from '../../../src/providers/dropbox/auth.js';
import { requireThrowawayKeyring } from '../../helpers/keyring-guard.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

interface TokenServer {
  url: string;
  refreshes: URLSearchParams[];
  close(): Promise<void>;
}

/** /oauth2/token answering refresh grants: `answer` decides each one (after `delayMs`, to widen races). */
async function tokenServer(
  answer: (form: URLSearchParams, n: number) => { status: number; json: unknown },
  delayMs = 0,
): Promise<TokenServer> {
  const refreshes: URLSearchParams[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const form = new URLSearchParams(body);
      // Dropbox /oauth2/token, Microsoft /common/oauth2/v2.0/token; never a query string
      if (!/^\/[\w/.]*token$/.test(req.url ?? '') || req.method !== 'POST') {
        res.writeHead(404).end();
        return;
      }
      refreshes.push(form);
      const a = answer(form, refreshes.length);
      setTimeout(() => {
        res.writeHead(a.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(a.json));
      }, delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    refreshes,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LFS_BRIDGE_')) env[k] = v;
  return { ...env, ...extra };
}

const secret = (tag: string) => `${tag}-${randomBytes(18).toString('base64url')}`;

function record(over: Partial<TokenRecord> = {}): TokenRecord {
  return {
    access: secret('old-access'),
    refresh: secret('refresh'),
    expiresAt: Date.now() - 1000,
    scope: 'files.content.read',
    account: 'alice@example.com',
    email: 'alice@example.com',
    displayName: 'Alice',
    clientId: 'test-app-key',
    ...over,
  };
}

/** Runs getAccessToken('dropbox') in a fresh Node process (tsx), resolving with its JSON answer. */
function child(env: NodeJS.ProcessEnv): Promise<{ token?: string; account?: string; error?: string }> {
  const code = `
    import ${JSON.stringify(join(ROOT, 'src/providers/index.ts'))}; // the registry gives src/oauth its specs, as in the agent
    import { getAccessToken } from ${JSON.stringify(join(ROOT, 'src/oauth/index.ts'))};
    try {
      const r = await getAccessToken('dropbox', { env: process.env });
      process.stdout.write(JSON.stringify(r));
    } catch (e) {
      process.stdout.write(JSON.stringify({ error: e.message }));
    }
    process.exit(0);`;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (b) => {
      out += b;
    });
    p.stderr.on('data', (b) => {
      err += b;
    });
    p.on('error', reject);
    p.on('close', (c) => {
      try {
        resolve(JSON.parse(out));
      } catch {
        reject(new Error(`child exited ${c}: ${out}\n${err}`));
      }
    });
  });
}

describe('oauth/access: getAccessToken', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let store: FileStore;
  let srv: TokenServer | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lfsb-oauth-'));
    resetSecretStore();
    forgetCachedTokens();
    env = cleanEnv({
      XDG_CONFIG_HOME: join(dir, 'config'),
      XDG_STATE_HOME: join(dir, 'state'),
      LFS_BRIDGE_INSECURE_STORAGE: '1',
    });
    store = new FileStore(join(dir, 'config', 'lfs-bridge', 'secrets.json'));
  });
  afterEach(async () => {
    await srv?.close();
    srv = undefined;
    resetSecretStore();
    await rm(dir, { recursive: true, force: true });
  });

  // logged in under the override the test then uses (a login is bound to its endpoint: endpoint.test.ts)
  const seed = (r: TokenRecord, provider = 'dropbox') =>
    store.set(`token:${provider}:${r.account}`, JSON.stringify({ endpoint: srv?.url, ...r }));
  const stored = async (account = 'alice@example.com', provider = 'dropbox') =>
    JSON.parse((await store.get(`token:${provider}:${account}`))!) as TokenRecord;

  it('returns a stored access token with ≥ 5 min left, without any request', async () => {
    srv = await tokenServer(() => ({ status: 500, json: {} }));
    const r = record({ expiresAt: Date.now() + 3600_000 });
    await seed(r);
    const got = await getAccessToken('dropbox', { env: { ...env, LFS_BRIDGE_DROPBOX_ENDPOINT: srv.url } });
    assert.deepEqual(got, { token: r.access, account: 'alice@example.com' });
    assert.equal(srv.refreshes.length, 0);
  });

  it('refreshes a token with < 5 min left (form body, no query), stores it, keeps the refresh token', async () => {
    srv = await tokenServer(() => ({
      status: 200,
      json: { access_token: 'sl.new-access-token-1', token_type: 'bearer', expires_in: 14400 },
    }));
    const r = record({ expiresAt: Date.now() + 4 * 60_000 });
    await seed(r);
    const e = { ...env, LFS_BRIDGE_DROPBOX_ENDPOINT: srv.url };
    const got = await getAccessToken('dropbox', { env: e });
    assert.equal(got.token, 'sl.new-access-token-1');
    assert.equal(srv.refreshes.length, 1);
    const f = srv.refreshes[0]!;
    assert.equal(f.get('grant_type'), 'refresh_token');
    assert.equal(f.get('refresh_token'), r.refresh);
    assert.equal(f.get('client_id'), 'test-app-key');
    assert.equal(f.get('client_secret'), null);
    const now = await stored();
    assert.equal(now.access, 'sl.new-access-token-1');
    assert.equal(now.refresh, r.refresh, 'Dropbox does not rotate: the old refresh token stays');
    assert.ok(Math.abs(now.expiresAt - (Date.now() + 14400_000)) < 60_000);
    assert.equal(now.clientId, 'test-app-key');
    // cached in process: no second request, even with the server gone
    await srv.close();
    srv = undefined;
    assert.equal((await getAccessToken('dropbox', { env: e })).token, 'sl.new-access-token-1');
  });

  for (const backend of ['file store', 'OS keychain'] as const) {
    it(`8 processes with an expired token (${backend}): exactly one refresh, all get the new token`, async function () {
      this.timeout(60_000);
      const e = backend === 'file store' ? env : cleanEnv({ XDG_STATE_HOME: join(dir, 'state') });
      if (backend === 'OS keychain') await requireThrowawayKeyring();
      let n = 0;
      srv = await tokenServer(
        () => ({
          status: 200,
          json: { access_token: `sl.refreshed-${++n}-xxxxxxxx`, token_type: 'bearer', expires_in: 14400 },
        }),
        300,
      );
      const account = `race-${randomBytes(4).toString('hex')}@example.com`;
      const r = record({ account, email: account });
      resetSecretStore();
      const s = await openSecretStore({ env: e });
      await s.set(`token:dropbox:${account}`, JSON.stringify({ ...r, endpoint: srv.url }));
      try {
        const childEnv = { ...e, LFS_BRIDGE_DROPBOX_ENDPOINT: srv.url };
        // the children pick the account themselves: make it the only dropbox one in the keychain
        const others = (await s.list('token:dropbox:')).filter((x) => x.account !== `token:dropbox:${account}`);
        assert.deepEqual(others, [], 'the keychain holds no other dropbox login');
        const results = await Promise.all(Array.from({ length: 8 }, () => child(childEnv)));
        for (const x of results) assert.equal(x.error, undefined, `a child failed: ${x.error}`);
        assert.equal(srv.refreshes.length, 1, 'one refresh for 8 processes');
        assert.deepEqual(new Set(results.map((x) => x.token)), new Set(['sl.refreshed-1-xxxxxxxx']));
        assert.deepEqual(new Set(results.map((x) => x.account)), new Set([account]));
        const now = JSON.parse((await s.get(`token:dropbox:${account}`))!) as TokenRecord;
        assert.equal(now.access, 'sl.refreshed-1-xxxxxxxx');
        assert.equal(now.refresh, r.refresh);
      } finally {
        await s.delete(`token:dropbox:${account}`);
        resetSecretStore();
      }
    });
  }

  it('invalid_grant → Auth error naming the fix; nothing secret in the message', async () => {
    srv = await tokenServer(() => ({
      status: 400,
      json: { error: 'invalid_grant', error_description: 'refresh token is invalid or revoked' },
    }));
    const r = record();
    await seed(r);
    await assert.rejects(
      getAccessToken('dropbox', { env: { ...env, LFS_BRIDGE_DROPBOX_ENDPOINT: srv.url } }),
      (e: BridgeError) => {
        assert.equal(e.kind, 'Auth');
        assert.equal(e.retryable, false);
        assert.equal(e.message, '[dropbox] login expired or revoked: log in again (run lfs-bridge login dropbox)');
        return true;
      },
    );
    assert.equal((await stored()).access, r.access, 'the record is left as it was');
  });

  it('a named account (--account work) is named in the fix', async () => {
    srv = await tokenServer(() => ({ status: 400, json: { error: 'invalid_grant' } }));
    await seed(record({ account: 'work' }));
    await assert.rejects(
      getAccessToken('dropbox', { env: { ...env, LFS_BRIDGE_DROPBOX_ENDPOINT: srv.url } }),
      (e: Error) =>
        e.message === '[dropbox] login expired or revoked: log in again (run lfs-bridge login dropbox --account work)',
    );
  });

  it('5xx on refresh is retryable', async () => {
    srv = await tokenServer(() => ({ status: 503, json: {} }));
    await seed(record());
    await assert.rejects(
      getAccessToken('dropbox', { env: { ...env, LFS_BRIDGE_DROPBOX_ENDPOINT: srv.url } }),
      (e: BridgeError) => e.kind === 'Transient' && e.retryable,
    );
  });

  it('forceRefresh refreshes a still-valid token once; a token refreshed meanwhile is taken as is', async () => {
    let n = 0;
    srv = await tokenServer(() => ({
      status: 200,
      json: { access_token: `sl.forced-${++n}-xxxxxxxx`, token_type: 'bearer', expires_in: 14400 },
    }));
    const r = record({ expiresAt: Date.now() + 3600_000 });
    await seed(r);
    const e = { ...env, LFS_BRIDGE_DROPBOX_ENDPOINT: srv.url };
    assert.equal((await getAccessToken('dropbox', { env: e })).token, r.access);
    // the server said 401 expired_access_token to r.access
    assert.equal((await getAccessToken('dropbox', { env: e, forceRefresh: true })).token, 'sl.forced-1-xxxxxxxx');
    assert.equal(srv.refreshes.length, 1);
    // another agent that also saw r.access refused: the stored token differs, so no second refresh
    assert.equal(
      (await getAccessToken('dropbox', { env: e, forceRefresh: true, rejected: r.access })).token,
      'sl.forced-1-xxxxxxxx',
    );
    assert.equal(srv.refreshes.length, 1);
  });

  it('rotating refresh tokens (Microsoft): the new refresh token is stored and used next time', async () => {
    const valid = new Set<string>();
    let n = 0;
    srv = await tokenServer((form) => {
      const rt = form.get('refresh_token')!;
      if (!valid.delete(rt)) return { status: 400, json: { error: 'invalid_grant', error_description: 'AADSTS70000' } };
      const next = `M.rotated-refresh-${++n}-xxxxxxxx`;
      valid.add(next);
      return {
        status: 200,
        json: { access_token: `EwB.access-${n}-xxxxxxxx`, token_type: 'Bearer', refresh_token: next, expires_in: 3599 },
      };
    });
    const spec: OAuthSpec = {
      ...dropboxOAuth,
      provider: 'onedrive',
      title: 'OneDrive',
      tokenUrl: 'https://login.microsoftonline.com/common/oauth2/v2.0/token',
      scopes: ['Files.ReadWrite.AppFolder', 'offline_access', 'User.Read'],
      scopeOnTokenRequests: true,
      rotatesRefreshTokens: true,
    };
    overrideSpec('onedrive', spec);
    try {
      const r = record({ account: 'bob@example.com', email: 'bob@example.com' });
      valid.add(r.refresh!);
      await seed(r, 'onedrive');
      const e = { ...env, LFS_BRIDGE_ONEDRIVE_ENDPOINT: srv.url };
      assert.equal((await getAccessToken('onedrive', { env: e })).token, 'EwB.access-1-xxxxxxxx');
      assert.equal((await stored('bob@example.com', 'onedrive')).refresh, 'M.rotated-refresh-1-xxxxxxxx');
      assert.equal(srv.refreshes[0]!.get('scope'), 'Files.ReadWrite.AppFolder offline_access User.Read');
      forgetCachedTokens();
      assert.equal((await getAccessToken('onedrive', { env: e, forceRefresh: true })).token, 'EwB.access-2-xxxxxxxx');
      assert.equal(srv.refreshes[1]!.get('refresh_token'), 'M.rotated-refresh-1-xxxxxxxx');
      assert.equal((await stored('bob@example.com', 'onedrive')).refresh, 'M.rotated-refresh-2-xxxxxxxx');
    } finally {
      overrideSpec('onedrive', undefined);
    }
  });

  it('LFS_BRIDGE_DROPBOX_TOKEN is used as is and never refreshed', async () => {
    const e = { ...env, LFS_BRIDGE_DROPBOX_TOKEN: 'sl.ci-token-from-env-xxxx' };
    assert.deepEqual(await getAccessToken('dropbox', { env: e }), {
      token: 'sl.ci-token-from-env-xxxx',
      account: 'env',
    });
    assert.deepEqual(await getAccessToken('dropbox', { env: e, account: 'ci' }), {
      token: 'sl.ci-token-from-env-xxxx',
      account: 'ci',
    });
    await assert.rejects(
      getAccessToken('dropbox', { env: e, forceRefresh: true }),
      /LFS_BRIDGE_DROPBOX_TOKEN was refused.*never refreshed/,
    );
  });

  it('accounts: none, one, several (the configured one chooses)', async () => {
    await assert.rejects(getAccessToken('dropbox', { env }), (e: BridgeError) => {
      assert.equal(e.kind, 'Auth');
      assert.equal(e.message, 'not logged in to Dropbox: run lfs-bridge login dropbox');
      return true;
    });
    const a = record({ expiresAt: Date.now() + 3600_000 });
    await seed(a);
    assert.equal(await selectAccount('dropbox', undefined, { env }), 'alice@example.com');
    const w = record({ account: 'work', email: 'alice@corp.example', expiresAt: Date.now() + 3600_000 });
    await seed(w);
    assert.deepEqual(
      (await listAccounts('dropbox', { env })).map((x) => [x.account, x.email, x.displayName]),
      [
        ['alice@example.com', 'alice@example.com', 'Alice'],
        ['work', 'alice@corp.example', 'Alice'],
      ],
    );
    await assert.rejects(getAccessToken('dropbox', { env }), (e: BridgeError) => {
      assert.equal(e.kind, 'Config');
      assert.match(e.message, /several Dropbox accounts are logged in \(alice@example.com, work\).*lfs-bridge.account/);
      return true;
    });
    assert.equal((await getAccessToken('dropbox', { env, account: 'work' })).token, w.access);
    await assert.rejects(
      getAccessToken('dropbox', { env, account: 'nobody' }),
      /not logged in to Dropbox as nobody \(logged in: alice@example.com, work\)/,
    );
  });

  it('the refresh lock lives in the state dir and is released', async () => {
    srv = await tokenServer(() => ({
      status: 200,
      json: { access_token: 'sl.after-lock-xxxxxxxx', token_type: 'bearer', expires_in: 14400 },
    }));
    await seed(record());
    await getAccessToken('dropbox', { env: { ...env, LFS_BRIDGE_DROPBOX_ENDPOINT: srv.url } });
    const { readdir } = await import('node:fs/promises');
    assert.deepEqual(await readdir(join(dir, 'state', 'lfs-bridge', 'locks')), []);
    assert.ok((await readFile(join(dir, 'config', 'lfs-bridge', 'secrets.json'), 'utf8')).includes('sl.after-lock'));
  });
});
