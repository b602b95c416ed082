/**
 * login() in process against a tiny OAuth server: loopback + PKCE (any-port with a client secret, and
 * Microsoft-style localhost), the paste flow, the automatic switch to pasting, the client-id help.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { BridgeError } from '../../../src/errors.js';
import { FileStore, resetSecretStore } from '../../../src/keychain/index.js';
import { hasDisplay, type LoginIO, login, type OAuthSpec, overrideSpec } from '../../../src/oauth/index.js';
import { authorizeUrl } from '../../../src/oauth/login.js';
import { challengeS256 } from '../../../src/oauth/pkce.js';

interface Code {
  challenge: string;
  redirectUri: string | null;
}

/** /authorize (auto-approve: 302 with code+state, or a JSON {code} without redirect_uri), /token, /me. */
async function provider() {
  const codes = new Map<string, Code>();
  const authorizeQueries: URLSearchParams[] = [];
  const tokenForms: URLSearchParams[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const json = (status: number, v: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(v));
      };
      if (url.pathname === '/authorize') {
        const q = url.searchParams;
        authorizeQueries.push(q);
        const code = `code-${++n}-xxxxxxxxxx`;
        codes.set(code, { challenge: q.get('code_challenge')!, redirectUri: q.get('redirect_uri') });
        if (!q.get('redirect_uri')) return json(200, { code });
        const to = new URL(q.get('redirect_uri')!);
        to.searchParams.set('code', code);
        to.searchParams.set('state', q.get('state')!);
        res.writeHead(302, { location: to.toString() });
        return res.end();
      }
      if (url.pathname === '/token') {
        const f = new URLSearchParams(body);
        tokenForms.push(f);
        const c = codes.get(f.get('code') ?? '');
        if (
          !c ||
          challengeS256(f.get('code_verifier') ?? '') !== c.challenge ||
          f.get('redirect_uri') !== c.redirectUri
        ) {
          return json(400, { error: 'invalid_grant' });
        }
        codes.delete(f.get('code')!);
        return json(200, {
          access_token: `access-${n}-${createHash('sha256').update(String(n)).digest('hex').slice(0, 16)}`,
          token_type: 'bearer',
          refresh_token: `refresh-${n}-yyyyyyyyyyyy`,
          expires_in: 3600,
          scope: 'a b',
        });
      }
      if (url.pathname === '/me') {
        return json(200, { mail: 'carol@example.com', name: 'Carol' });
      }
      json(404, {});
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    authorizeQueries,
    tokenForms,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function testSpec(over: Partial<OAuthSpec>): OAuthSpec {
  return {
    provider: 'gdrive',
    title: 'Google Drive',
    authorizeUrl: 'https://accounts.google.com/authorize',
    tokenUrl: 'https://oauth2.googleapis.com/token',
    scopes: ['s1', 's2'],
    extraAuthorizeParams: { access_type: 'offline', prompt: 'consent' },
    redirect: { kind: 'any-port', host: '127.0.0.1', path: '/' },
    rotatesRefreshTokens: false,
    sendsClientSecret: true,
    pasteCode: false,
    clientIdHelp: () => 'register an app',
    identify: async (token, env) => {
      const r = await fetch(`${env.LFS_BRIDGE_GDRIVE_ENDPOINT}/me`, { headers: { authorization: `Bearer ${token}` } });
      const v = (await r.json()) as { mail: string; name: string };
      return { email: v.mail, displayName: v.name };
    },
    ...over,
  };
}

/** An io whose URL lines are followed like a browser would: authorize → 302 → the loopback. */
function browserIO(stdin = new PassThrough()) {
  const urls: string[] = [];
  const info: string[] = [];
  const pages: { status: number; body: string }[] = [];
  const io: LoginIO = {
    url: (u) => {
      urls.push(u);
      void (async () => {
        const a = await fetch(u, { redirect: 'manual' });
        const loc = a.headers.get('location');
        if (!loc) return;
        const b = await fetch(loc);
        pages.push({ status: b.status, body: await b.text() });
      })();
    },
    info: (m) => info.push(m),
    stdin,
    openBrowser: async () => false,
  };
  return { io, urls, info, pages };
}

describe('oauth/login', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let srv: Awaited<ReturnType<typeof provider>>;
  let store: FileStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lfsb-login-'));
    resetSecretStore();
    srv = await provider();
    env = {
      PATH: process.env.PATH,
      XDG_CONFIG_HOME: join(dir, 'config'),
      XDG_STATE_HOME: join(dir, 'state'),
      LFS_BRIDGE_INSECURE_STORAGE: '1',
      LFS_BRIDGE_GDRIVE_ENDPOINT: srv.url,
      LFS_BRIDGE_ONEDRIVE_ENDPOINT: srv.url,
    };
    store = new FileStore(join(dir, 'config', 'lfs-bridge', 'secrets.json'));
  });
  afterEach(async () => {
    overrideSpec('gdrive', undefined);
    overrideSpec('onedrive', undefined);
    resetSecretStore();
    await srv.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('loopback + PKCE on any port (Google-style): URL, secret on the token call, record in the store', async () => {
    overrideSpec('gdrive', testSpec({}));
    const b = browserIO();
    const r = await login('gdrive', {
      env,
      cwd: dir,
      clientId: 'desktop-client',
      clientSecret: 'desktop-secret',
      browser: false,
      io: b.io,
    });
    assert.deepEqual(r, {
      provider: 'gdrive',
      account: 'carol@example.com',
      email: 'carol@example.com',
      displayName: 'Carol',
    });
    assert.equal(b.urls.length, 1);
    const q = srv.authorizeQueries[0]!;
    assert.equal(q.get('client_id'), 'desktop-client');
    assert.equal(q.get('response_type'), 'code');
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.equal(q.get('scope'), 's1 s2');
    assert.equal(q.get('access_type'), 'offline');
    assert.equal(q.get('prompt'), 'consent');
    assert.match(q.get('redirect_uri')!, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.ok(q.get('state')!.length >= 16);
    assert.equal(q.get('client_secret'), null, 'never a secret in the URL');
    const f = srv.tokenForms[0]!;
    assert.equal(f.get('grant_type'), 'authorization_code');
    assert.equal(f.get('client_secret'), 'desktop-secret');
    assert.equal(f.get('redirect_uri'), q.get('redirect_uri'));
    const rec = JSON.parse((await store.get('token:gdrive:carol@example.com'))!);
    assert.match(rec.access, /^access-1-/);
    assert.equal(rec.refresh, 'refresh-1-yyyyyyyyyyyy');
    assert.equal(rec.clientId, 'desktop-client');
    assert.equal(rec.clientSecret, 'desktop-secret');
    assert.equal(rec.email, 'carol@example.com');
    assert.equal(rec.displayName, 'Carol');
    assert.ok(rec.expiresAt > Date.now() + 3000_000);
    assert.equal(b.pages[0]?.status, 200);
    assert.ok(!JSON.stringify(r).includes(rec.access));
  });

  it('Microsoft-style http://localhost:PORT/ redirect, no secret, --account names the record', async () => {
    overrideSpec(
      'onedrive',
      testSpec({
        provider: 'onedrive',
        title: 'OneDrive',
        redirect: { kind: 'localhost', path: '/' },
        sendsClientSecret: false,
        scopeOnTokenRequests: true,
        extraAuthorizeParams: {},
        identify: async () => ({ email: 'dave@example.com', displayName: 'Dave' }),
      }),
    );
    const b = browserIO();
    const r = await login('onedrive', {
      env,
      cwd: dir,
      clientId: 'ms-client',
      account: 'work',
      browser: false,
      io: b.io,
    });
    assert.equal(r.account, 'work');
    assert.match(srv.authorizeQueries[0]!.get('redirect_uri')!, /^http:\/\/localhost:\d+\/$/);
    const f = srv.tokenForms[0]!;
    assert.equal(f.get('client_secret'), null);
    assert.equal(f.get('scope'), 's1 s2');
    assert.ok(await store.get('token:onedrive:work'));
  });

  it('paste flow: no redirect_uri anywhere, the code read from stdin', async () => {
    overrideSpec('gdrive', testSpec({ pasteCode: true, sendsClientSecret: false }));
    const stdin = new PassThrough();
    const urls: string[] = [];
    const io: LoginIO = {
      url: (u) => {
        urls.push(u);
        void fetch(u)
          .then((r) => r.json() as Promise<{ code: string }>)
          .then((v) => stdin.write(`  ${v.code}  \n`));
      },
      info: () => {},
      stdin,
      openBrowser: async () => true,
    };
    const r = await login('gdrive', { env, cwd: dir, clientId: 'app', paste: true, io });
    assert.equal(r.account, 'carol@example.com');
    assert.equal(srv.authorizeQueries[0]!.get('redirect_uri'), null);
    assert.equal(srv.tokenForms[0]!.get('redirect_uri'), null);
  });

  it('switches to pasting when the browser does not open (providers with a paste flow)', async () => {
    overrideSpec('gdrive', testSpec({ pasteCode: true, sendsClientSecret: false }));
    const stdin = new PassThrough();
    const info: string[] = [];
    const io: LoginIO = {
      url: (u) => {
        void fetch(u)
          .then((r) => r.json() as Promise<{ code: string }>)
          .then((v) => stdin.end(`${v.code}\n`));
      },
      info: (m) => info.push(m),
      stdin,
      openBrowser: async () => false,
    };
    await login('gdrive', { env: { ...env, DISPLAY: ':0' }, cwd: dir, clientId: 'app', io });
    assert.ok(
      info.some((m) => /did not open.*pasting a code/.test(m)),
      info.join('\n'),
    );
    // the first authorize URL (with redirect_uri) was never used; the pasted one has none
    assert.equal(srv.authorizeQueries.length, 1);
    assert.equal(srv.authorizeQueries[0]!.get('redirect_uri'), null);
  });

  it('end of stdin without a code fails with the fix', async () => {
    overrideSpec('gdrive', testSpec({ pasteCode: true, sendsClientSecret: false }));
    const stdin = new PassThrough();
    stdin.end();
    await assert.rejects(
      login('gdrive', { env, cwd: dir, clientId: 'app', paste: true, io: { ...browserIO().io, stdin, url: () => {} } }),
      /no code was pasted \(end of input\): run lfs-bridge login gdrive --paste again/,
    );
  });

  it('no display: Linux without DISPLAY/WAYLAND_DISPLAY', () => {
    assert.equal(hasDisplay({}, 'linux'), false);
    assert.equal(hasDisplay({ DISPLAY: ':0' }, 'linux'), true);
    assert.equal(hasDisplay({ WAYLAND_DISPLAY: 'wayland-0' }, 'linux'), true);
    assert.equal(hasDisplay({}, 'darwin'), true);
  });

  it('no client id → a Config error explaining how to register a Dropbox app', async () => {
    await assert.rejects(
      login('dropbox', { env, cwd: dir, port: 53999, browser: false, io: browserIO().io }),
      (e: BridgeError) => {
        assert.equal(e.kind, 'Config');
        for (const s of [
          'App Console',
          'Scoped access',
          'App folder',
          'Full Dropbox',
          'files.content.write',
          'files.content.read',
          'files.metadata.read',
          'account_info.read',
          'http://127.0.0.1:53999/callback',
          'lfs-bridge login dropbox --client-id <app key>',
          'LFS_BRIDGE_DROPBOX_CLIENT_ID',
        ]) {
          assert.ok(e.message.includes(s), `missing "${s}" in:\n${e.message}`);
        }
        return true;
      },
    );
  });

  it('Dropbox authorize URL: token_access_type=offline, PKCE, rebased on LFS_BRIDGE_DROPBOX_ENDPOINT', async () => {
    const { oauthSpec: dropboxOAuth } = await import('../../../src/providers/dropbox/auth.js');
    const u = new URL(
      authorizeUrl(dropboxOAuth, {
        env: { LFS_BRIDGE_DROPBOX_ENDPOINT: 'http://127.0.0.1:9' },
        clientId: 'k',
        pkce: { verifier: 'v', challenge: 'c', method: 'S256' },
        state: 's',
        redirectUri: 'http://127.0.0.1:53682/callback',
      }),
    );
    assert.equal(u.origin + u.pathname, 'http://127.0.0.1:9/oauth2/authorize');
    assert.equal(u.searchParams.get('token_access_type'), 'offline');
    assert.equal(u.searchParams.get('redirect_uri'), 'http://127.0.0.1:53682/callback');
    assert.equal(u.searchParams.get('code_challenge_method'), 'S256');
  });
});
