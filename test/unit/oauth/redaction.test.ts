/** Tokens never show: not in TokenSet's JSON/inspect/string forms, not in thrown messages, not in logs. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { FileStore, resetSecretStore } from '../../../src/keychain/index.js';
import { forgetCachedTokens, getAccessToken, TokenSet } from '../../../src/oauth/index.js';
import { identify } from '../../../src/providers/dropbox/auth.js';

const secret = (tag: string) => `${tag}-${randomBytes(20).toString('base64url')}`;

/** Answers every request with `status` and `body(form)`. */
async function echoServer(status: number, body: (form: URLSearchParams, auth?: string) => string) {
  const server: Server = createServer((req, res) => {
    let b = '';
    req.on('data', (c) => {
      b += c;
    });
    req.on('end', () => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body(new URLSearchParams(b), req.headers.authorization));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

describe('oauth: secrets stay secret', () => {
  it('TokenSet shows who and until when, never a token', () => {
    const access = secret('sl.access');
    const refresh = secret('refresh');
    const clientSecret = secret('client-secret');
    const t = new TokenSet('dropbox', {
      access,
      refresh,
      clientSecret,
      expiresAt: 1,
      account: 'a@example.com',
      email: 'a@example.com',
      clientId: 'app',
    });
    for (const shown of [
      JSON.stringify(t),
      inspect(t),
      String(t),
      `${t}`,
      JSON.stringify({ nested: [t] }),
      inspect({ t }, { depth: 5, showHidden: true }),
    ]) {
      for (const s of [access, refresh, clientSecret]) assert.ok(!shown.includes(s), `${s} shown in ${shown}`);
    }
    assert.equal(String(t), 'TokenSet(dropbox:a@example.com)');
    assert.equal(t.accessToken, access);
    // the keychain form is the one place they are serialised
    const rec = JSON.parse(t.toRecord());
    assert.equal(rec.access, access);
    assert.equal(rec.refresh, refresh);
  });

  describe('errors and logs', () => {
    let dir: string;
    let env: NodeJS.ProcessEnv;
    let store: FileStore;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'lfsb-redact-'));
      resetSecretStore();
      forgetCachedTokens();
      env = {
        PATH: process.env.PATH,
        XDG_CONFIG_HOME: join(dir, 'config'),
        XDG_STATE_HOME: join(dir, 'state'),
        LFS_BRIDGE_INSECURE_STORAGE: '1',
        LFS_BRIDGE_LOG: join(dir, 'log.txt'),
      };
      store = new FileStore(join(dir, 'config', 'lfs-bridge', 'secrets.json'));
    });
    afterEach(async () => {
      resetSecretStore();
      await rm(dir, { recursive: true, force: true });
    });

    const seed = async (endpoint?: string) => {
      const r = {
        access: secret('sl.old'),
        refresh: secret('refresh'),
        expiresAt: 0,
        account: 'a@example.com',
        clientId: 'app',
        endpoint, // logged in under the override the test then uses
      };
      await store.set('token:dropbox:a@example.com', JSON.stringify(r));
      return r;
    };

    it('a token endpoint echoing the refresh token in its error: the message is redacted', async () => {
      const srv = await echoServer(400, (f) =>
        JSON.stringify({ error: 'invalid_request', error_description: `bad token ${f.get('refresh_token')}` }),
      );
      const r = await seed(srv.url);
      try {
        await assert.rejects(
          getAccessToken('dropbox', { env: { ...env, LFS_BRIDGE_DROPBOX_ENDPOINT: srv.url } }),
          (e: Error) => {
            assert.ok(!e.message.includes(r.refresh), e.message);
            assert.match(e.message, /token refresh failed: invalid_request \(bad token «redacted»\)/);
            return true;
          },
        );
      } finally {
        await srv.close();
      }
    });

    it('an unexpected answer quoting the new access token: redacted in the message', async () => {
      const fresh = secret('sl.fresh');
      let calls = 0;
      const srv = await echoServer(200, () =>
        ++calls === 1 ? JSON.stringify({ access_token: fresh, token_type: 'bearer', expires_in: 14400 }) : '',
      );
      const r = await seed(srv.url);
      try {
        const got = await getAccessToken('dropbox', { env: { ...env, LFS_BRIDGE_DROPBOX_ENDPOINT: srv.url } });
        assert.equal(got.token, fresh);
      } finally {
        await srv.close();
      }
      const bad = await echoServer(418, (_f, auth) => `teapot says ${auth}`);
      try {
        await assert.rejects(identify(fresh, { LFS_BRIDGE_DROPBOX_ENDPOINT: bad.url }), (e: Error) => {
          assert.ok(!e.message.includes(fresh), e.message);
          assert.match(e.message, /HTTP 418: teapot says Bearer «redacted»/);
          return true;
        });
      } finally {
        await bad.close();
      }
      const log = await readFile(join(dir, 'log.txt'), 'utf8');
      assert.match(log, /refreshing the access token/);
      for (const s of [r.access, r.refresh, fresh]) assert.ok(!log.includes(s), 'a token in the log file');
    });
  });
});
