/**
 * LFS_BRIDGE_<P>_ENDPOINT cannot carry the keychain's tokens elsewhere: a login remembers the endpoint it was made
 * under and its tokens never go to another one (two fake Dropboxes on two loopback ports); plain http is refused
 * off loopback; the override is announced once on stderr and shown by `status`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { BridgeError } from '../../../src/errors.js';
import { checkEndpoint, endpointFor, onEndpointWarning, resetDispatcher } from '../../../src/http/index.js';
import { FileStore, resetSecretStore } from '../../../src/keychain/index.js';
import { forgetCachedTokens, getAccessToken, type LoginIO, login, type TokenRecord } from '../../../src/oauth/index.js';
import { connect } from '../../../src/providers/dropbox/provider.js';
import { renderStatus } from '../../../src/repo/render.js';
import { collectStatus } from '../../../src/repo/status.js';
import { type FakeDropbox, startFakeDropbox } from '../../fakes/dropbox/server.js';

function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LFS_BRIDGE_')) env[k] = v;
  return { ...env, ...extra };
}

const requests = (f: FakeDropbox) => Object.values(f.counters.snapshot().requests).reduce((a, b) => a + b, 0);

describe('oauth: tokens stay with the endpoint they came from', () => {
  let a: FakeDropbox;
  let b: FakeDropbox;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let store: FileStore;
  let warnings: string[];

  beforeEach(async () => {
    [a, b] = await Promise.all([startFakeDropbox(), startFakeDropbox()]);
    dir = await mkdtemp(join(tmpdir(), 'lfsb-endpoint-'));
    resetSecretStore();
    forgetCachedTokens();
    env = cleanEnv({
      XDG_CONFIG_HOME: join(dir, 'config'),
      XDG_STATE_HOME: join(dir, 'state'),
      LFS_BRIDGE_INSECURE_STORAGE: '1',
    });
    store = new FileStore(join(dir, 'config', 'lfs-bridge', 'secrets.json'));
    warnings = [];
    onEndpointWarning((l) => warnings.push(l));
  });
  afterEach(async () => {
    onEndpointWarning(undefined);
    resetSecretStore();
    forgetCachedTokens();
    await resetDispatcher();
    await Promise.all([a.close(), b.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  /** A login as the real `login` stores it: tokens issued by `fake`, recorded under `endpoint`. */
  async function seed(fake: FakeDropbox, endpoint: string | undefined, expired = false) {
    const t = fake.issueToken();
    const r: TokenRecord = {
      access: t.access,
      refresh: t.refresh,
      expiresAt: expired ? Date.now() - 1000 : Date.now() + 3600_000,
      account: 'default@example.com',
      email: 'default@example.com',
      clientId: fake.appKey,
      ...(endpoint ? { endpoint } : {}),
    };
    await store.set(`token:dropbox:${r.account}`, JSON.stringify(r));
    return r;
  }
  const at = (url?: string) => ({ ...env, LFS_BRIDGE_DROPBOX_ENDPOINT: url });

  it('login under an override records it; the login is used there and refused under another override', async () => {
    const stdin = new PassThrough();
    const io: LoginIO = {
      url: (u) => {
        void fetch(u)
          .then((r) => r.text())
          .then((html) => stdin.write(`${/id="auth-code">([^<]+)</.exec(html)?.[1]}\n`));
      },
      info: () => {},
      stdin,
      openBrowser: async () => true,
    };
    const r = await login('dropbox', { env: at(a.url), cwd: dir, clientId: a.appKey, paste: true, io });
    assert.equal(r.account, 'default@example.com');
    const rec = JSON.parse((await store.get('token:dropbox:default@example.com'))!) as TokenRecord;
    assert.equal(rec.endpoint, a.url);

    assert.ok((await getAccessToken('dropbox', { env: at(a.url) })).token);
    const before = requests(b);
    await assert.rejects(getAccessToken('dropbox', { env: at(b.url) }), (e: BridgeError) => {
      assert.equal(e.kind, 'Auth');
      assert.match(e.message, new RegExp(`made under LFS_BRIDGE_DROPBOX_ENDPOINT=${a.url} but .* points to ${b.url}`));
      assert.match(e.message, /log in under that override/);
      return true;
    });
    assert.equal(requests(b), before, 'nothing reached the other endpoint');
  });

  it('an expired login of one fake is never refreshed at the other; at its own it is', async () => {
    const rec = await seed(a, a.url, true);
    await assert.rejects(getAccessToken('dropbox', { env: at(b.url) }), /points to/);
    assert.equal(b.counters.snapshot().refreshes, 0);
    assert.equal(requests(b), 0, 'no request at all, token or other');
    const got = await getAccessToken('dropbox', { env: at(a.url) });
    assert.notEqual(got.token, rec.access);
    assert.equal(a.counters.snapshot().refreshes, 1);
  });

  it('a login of the real provider (or an entry without the field) is refused under an override', async () => {
    await seed(a, undefined, true);
    await assert.rejects(getAccessToken('dropbox', { env: at(b.url) }), (e: BridgeError) => {
      assert.equal(e.kind, 'Auth');
      assert.match(
        e.message,
        new RegExp(
          `logged in to Dropbox \\(https://api.dropboxapi.com\\) as default@example.com but LFS_BRIDGE_DROPBOX_ENDPOINT points to ${b.url}: log in under that override`,
        ),
      );
      return true;
    });
    assert.equal(requests(b), 0);
  });

  it('a login made under an override is refused without it (never sent to the real provider)', async () => {
    await seed(a, a.url, true);
    await assert.rejects(getAccessToken('dropbox', { env: at(undefined) }), (e: BridgeError) => {
      assert.equal(e.kind, 'Auth'); // not a network error: nothing was attempted
      assert.match(e.message, /made under LFS_BRIDGE_DROPBOX_ENDPOINT=.* which is not set now/);
      return true;
    });
  });

  it('the provider refuses to start on a mismatched login, before any request', async () => {
    await seed(a, a.url);
    await assert.rejects(connect({ env: at(b.url) }, '/lfs'), /points to/);
    assert.equal(requests(b), 0);
  });

  it('with a real login beside one made under an override, each endpoint picks its own (no account to configure)', async () => {
    const bound = await seed(a, a.url);
    const real: TokenRecord = {
      ...bound,
      access: 'sl.real-access-token',
      account: 'me@example.com',
      endpoint: undefined,
    };
    await store.set(`token:dropbox:${real.account}`, JSON.stringify(real));
    assert.deepEqual(await getAccessToken('dropbox', { env: at(a.url) }), {
      token: bound.access,
      account: 'default@example.com',
    });
    assert.deepEqual(await getAccessToken('dropbox', { env: at(undefined) }), {
      token: 'sl.real-access-token',
      account: 'me@example.com',
    });
    // under a third endpoint neither is usable: several logins, none made there
    await assert.rejects(getAccessToken('dropbox', { env: at(b.url) }), /several Dropbox accounts are logged in/);
    assert.equal(requests(b), 0);
  });

  it('accepts https anywhere and http only on loopback; refuses the rest with a clear error', async () => {
    for (const ok of [
      'https://dropbox-gateway.example.com/',
      'http://127.0.0.1:8080',
      'http://127.9.8.7',
      'http://[::1]:9000/',
      'http://localhost:3000',
    ]) {
      assert.doesNotThrow(() => checkEndpoint('dropbox', ok), ok);
    }
    assert.equal(checkEndpoint('dropbox', 'http://127.0.0.1:8080//'), 'http://127.0.0.1:8080');
    for (const bad of [
      'http://example.com',
      'http://10.0.0.1:8080',
      'http://127.0.0.1.evil.example',
      'http://[::2]',
      'ftp://127.0.0.1',
      'https://user:pw@example.com',
      'not a url',
    ]) {
      assert.throws(
        () => checkEndpoint('dropbox', bad),
        (e: BridgeError) => e.kind === 'Config' && /LFS_BRIDGE_DROPBOX_ENDPOINT/.test(e.message),
        bad,
      );
    }
    assert.throws(() => checkEndpoint('dropbox', 'http://example.com'), /plain http would send your dropbox tokens/);
    // refused where it is used, before the keychain or the network
    await seed(a, undefined);
    await assert.rejects(
      getAccessToken('dropbox', { env: at('http://192.0.2.1:8080') }),
      (e: BridgeError) => e.kind === 'Config',
    );
  });

  it('the override is announced once per process on stderr, and status shows it', async () => {
    endpointFor('dropbox', at(a.url));
    endpointFor('dropbox', at(a.url));
    await seed(a, a.url);
    await getAccessToken('dropbox', { env: at(a.url) });
    assert.equal(warnings.length, 1, warnings.join(''));
    assert.match(warnings[0]!, new RegExp(`^lfs-bridge: warning: LFS_BRIDGE_DROPBOX_ENDPOINT is set: .* ${a.url}\\n$`));

    const s = await collectStatus({ cwd: dir, env: at(a.url) });
    assert.deepEqual(s.endpoints, [{ provider: 'dropbox', variable: 'LFS_BRIDGE_DROPBOX_ENDPOINT', url: a.url }]);
    assert.equal(s.accounts[0]?.endpoint, a.url);
    const text = renderStatus(s);
    assert.match(text, new RegExp(`Endpoint    LFS_BRIDGE_DROPBOX_ENDPOINT=${a.url}`));
    assert.match(text, new RegExp(`default@example.com .*\\(logged in under ${a.url}\\)`));
    const refused = await collectStatus({ cwd: dir, env: at('http://example.com') });
    assert.match(refused.endpoints[0]?.error ?? '', /plain http/);
  });
});
