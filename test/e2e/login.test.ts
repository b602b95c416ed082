/**
 * `lfs-bridge login dropbox` / `logout dropbox` through the built CLI against the fake Dropbox, with the real OS
 * keychain (scripts/with-keychain.sh): the --no-browser loopback redirect, --paste (and pasting chosen by itself
 * without a display), status listing the account, refresh through getAccessToken, and logout revoking. The token
 * must never show in stdout, stderr, argv or git config.
 */
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { openSecretStore, resetSecretStore, type SecretStore } from '../../src/keychain/index.js';
import '../../src/providers/index.js'; // the registry gives src/oauth its specs, as in the CLI and the agent
import { forgetCachedTokens, getAccessToken } from '../../src/oauth/index.js';
import { type FakeDropbox, startFakeDropbox } from '../fakes/dropbox/server.js';
import { requireThrowawayKeyring } from '../helpers/keyring-guard.js';
import { BIN, describeRun, type RunResult } from '../helpers/run.js';
import { Sandbox } from '../helpers/sandbox.js';

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/** A running CLI whose stdout is watched line by line (the login URL arrives before it exits). */
class Cli {
  readonly child: ChildProcessWithoutNullStreams;
  stdout = '';
  stderr = '';
  readonly done: Promise<RunResult>;
  constructor(
    readonly args: string[],
    env: NodeJS.ProcessEnv,
    cwd: string,
  ) {
    const t0 = Date.now();
    this.child = spawn(process.execPath, [BIN, ...args], { cwd, env });
    this.child.stdout.on('data', (b) => {
      this.stdout += b;
    });
    this.child.stderr.on('data', (b) => {
      this.stderr += b;
    });
    this.child.stdin.on('error', () => {});
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 60_000);
    this.done = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({
          code,
          signal,
          stdout: this.stdout,
          stderr: this.stderr,
          output: `${this.stdout}\n${this.stderr}`,
          ms: Date.now() - t0,
        });
      });
    });
  }
  /** The first stdout line that is a URL. */
  async url(): Promise<string> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const m = /^(https?:\/\/\S+)$/m.exec(this.stdout);
      if (m) return m[1]!;
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(describeRun(`no URL from lfs-bridge ${this.args.join(' ')}`, await this.done));
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

describe('e2e: login / logout dropbox (fake Dropbox, real keychain)', function () {
  this.timeout(120_000);
  let sb: Sandbox;
  let fake: FakeDropbox;
  let port: number;
  let env: NodeJS.ProcessEnv;
  let store: SecretStore;
  /** Every token the fake handed out during the tests, to look for leaks. */
  const seen: string[] = [];

  const key = (account: string) => `token:dropbox:${account}`;
  const record = async (account: string) => {
    const s = await store.get(key(account));
    return s === null ? null : (JSON.parse(s) as { access: string; refresh: string; clientId: string; email: string });
  };
  const apiCall = (token: string) =>
    fetch(`${fake.url}/2/users/get_current_account`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  /** stderr with oclif's line wrapping undone. */
  const flat = (text: string) => text.replace(/\s+/g, ' ');
  const noLeak = (where: string, text: string) => {
    for (const t of seen) assert.ok(!text.includes(t), `a token appears in ${where}`);
  };

  before(async () => {
    await requireThrowawayKeyring(); // it deletes every Dropbox login of the keychain it reaches
    sb = await Sandbox.create('login');
    port = await freePort();
    fake = await startFakeDropbox({ redirectUris: [`http://127.0.0.1:${port}/callback`] });
    env = sb.with({ LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url, DISPLAY: undefined, WAYLAND_DISPLAY: undefined });
    resetSecretStore();
    store = await openSecretStore({ env });
    for (const { account } of await store.list('token:dropbox:')) await store.delete(account);
  });
  after(async () => {
    if (store) for (const { account } of await store.list('token:dropbox:')) await store.delete(account);
    resetSecretStore();
    await fake?.close();
    await sb?.cleanup();
  });

  it('--no-browser: prints the URL, takes the redirect on the loopback port, stores the tokens in the keychain only', async () => {
    const args = ['login', 'dropbox', '--no-browser', '--client-id', 'test-app-key', '--port', String(port)];
    const cli = new Cli(args, env, sb.root);
    const url = new URL(await cli.url());
    assert.equal(url.origin + url.pathname, `${fake.url}/oauth2/authorize`);
    assert.equal(url.searchParams.get('redirect_uri'), `http://127.0.0.1:${port}/callback`);
    assert.equal(url.searchParams.get('token_access_type'), 'offline');
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    const approve = await fetch(url, { redirect: 'manual' });
    assert.equal(approve.status, 302);
    const back = approve.headers.get('location')!;
    assert.ok(back.startsWith(`http://127.0.0.1:${port}/callback?`), back);
    const page = await fetch(back);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /You can close this tab/);
    const r = await cli.done;
    assert.equal(r.code, 0, describeRun('login', r));
    assert.match(r.stdout, /Logged in to Dropbox as .*default@example\.com.* \(account default@example\.com\)/);

    const rec = await record('default@example.com');
    assert.ok(rec, 'the token record is in the OS keychain');
    assert.equal(rec.clientId, 'test-app-key');
    assert.ok(rec.refresh, 'offline access: a refresh token');
    seen.push(rec.access, rec.refresh);
    assert.equal((await apiCall(rec.access)).status, 200, 'the stored access token works');

    noLeak('stdout', r.stdout);
    noLeak('stderr', r.stderr);
    noLeak('argv', cli.args.join(' '));
    const gitConfig = await sb.git(sb.root, ['config', '--list', '--show-origin']);
    noLeak('git config --list', gitConfig.stdout);

    const status = await sb.bridge(sb.root, ['status', '--json'], { LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url });
    const info = JSON.parse(status.stdout) as { accounts: { provider: string; account: string }[] };
    assert.deepEqual(
      info.accounts.filter((a) => a.provider === 'dropbox').map((a) => a.account),
      ['default@example.com'],
      describeRun('status --json', status),
    );
    noLeak('status --json', status.stdout);
  });

  it('the agent side: an access token the server calls expired is refreshed once and stored', async () => {
    const before = (await record('default@example.com'))!;
    fake.expireAccessTokens();
    fake.counters.reset();
    assert.equal((await apiCall(before.access)).status, 401);
    forgetCachedTokens();
    const got = await getAccessToken('dropbox', { env, forceRefresh: true });
    seen.push(got.token);
    assert.equal(got.account, 'default@example.com');
    assert.notEqual(got.token, before.access);
    assert.equal(fake.counters.refreshes, 1);
    assert.equal((await apiCall(got.token)).status, 200);
    const after = (await record('default@example.com'))!;
    assert.equal(after.access, got.token);
    assert.equal(after.refresh, before.refresh, 'Dropbox does not rotate refresh tokens');
    // another process that saw the same refusal takes the stored token without refreshing again
    forgetCachedTokens();
    const again = await getAccessToken('dropbox', { env, forceRefresh: true, rejected: before.access });
    assert.equal(again.token, got.token);
    assert.equal(fake.counters.refreshes, 1);
  });

  it('--paste --json: the URL has no redirect_uri, the code is read from stdin; --account names the login', async () => {
    fake.setAuthorizeAccount('paster');
    const cli = new Cli(
      ['login', 'dropbox', '--paste', '--json', '--client-id', 'test-app-key', '--account', 'work'],
      env,
      sb.root,
    );
    // under --json the URL goes to stderr (stdout is the JSON result only)
    const deadline = Date.now() + 30_000;
    let url: string | undefined;
    while (!url && Date.now() < deadline) {
      url = /^(https?:\/\/\S+)$/m.exec(cli.stderr)?.[1];
      if (!url) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(url, `no URL on stderr:\n--- stdout\n${cli.stdout}\n--- stderr\n${cli.stderr}`);
    assert.equal(new URL(url).searchParams.get('redirect_uri'), null);
    const html = await (await fetch(url)).text();
    const code = /<code id="auth-code">([^<]+)<\/code>/.exec(html)?.[1];
    assert.ok(code, html);
    cli.child.stdin.end(`${code}\n`);
    const r = await cli.done;
    assert.equal(r.code, 0, describeRun('login --paste', r));
    const result = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(result).sort(), ['account', 'displayName', 'email', 'provider']);
    assert.equal(result.provider, 'dropbox');
    assert.equal(result.account, 'work');
    assert.equal(result.email, 'paster@example.com');
    assert.equal(typeof result.displayName, 'string');
    const rec = (await record('work'))!;
    seen.push(rec.access, rec.refresh);
    noLeak('stdout', r.stdout);
    noLeak('stderr', r.stderr);
  });

  it('without a display it pastes by itself; the client id may come from LFS_BRIDGE_DROPBOX_CLIENT_ID', async () => {
    fake.setAuthorizeAccount('headless');
    const cli = new Cli(['login', 'dropbox'], { ...env, LFS_BRIDGE_DROPBOX_CLIENT_ID: 'test-app-key' }, sb.root);
    const url = await cli.url();
    assert.equal(new URL(url).searchParams.get('redirect_uri'), null);
    const code = /<code id="auth-code">([^<]+)<\/code>/.exec(await (await fetch(url)).text())![1];
    cli.child.stdin.end(`${code}\n`);
    const r = await cli.done;
    assert.equal(r.code, 0, describeRun('login', r));
    assert.match(r.stderr, /No display/);
    assert.match(r.stdout, /\(account headless@example\.com\)/);
    seen.push((await record('headless@example.com'))!.access);
  });

  it('with several accounts, logout needs --account; logout revokes and deletes the record', async () => {
    const several = await sb.bridge(sb.root, ['logout', 'dropbox'], { LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url });
    assert.notEqual(several.code, 0);
    assert.match(
      flat(several.stderr),
      /several Dropbox accounts are logged in \(default@example.com, headless@example.com, work\)/,
    );

    const rec = (await record('default@example.com'))!;
    assert.equal((await apiCall(rec.access)).status, 200);
    const out = await sb.bridge(sb.root, ['logout', 'dropbox', '--account', 'default@example.com', '--json'], {
      LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url,
    });
    assert.equal(out.code, 0, describeRun('logout', out));
    assert.deepEqual(JSON.parse(out.stdout), {
      provider: 'dropbox',
      accounts: [{ account: 'default@example.com', revoked: true }],
    });
    assert.equal(await record('default@example.com'), null, 'the record is gone');
    assert.equal((await apiCall(rec.access)).status, 401, 'the access token is revoked');
    const refresh = await fetch(`${fake.url}/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: rec.refresh, client_id: 'test-app-key' }),
    });
    assert.equal(refresh.status, 400, 'the refresh token is revoked too');

    const all = await sb.bridge(sb.root, ['logout', 'dropbox', '--all'], { LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url });
    assert.equal(all.code, 0, describeRun('logout --all', all));
    assert.match(all.stdout, /Logged out of Dropbox \(account headless@example\.com\): tokens revoked/);
    assert.match(all.stdout, /Logged out of Dropbox \(account work\): tokens revoked/);
    assert.deepEqual(
      (await store.list('token:dropbox:')).map((e) => e.account),
      [],
    );
    noLeak('logout output', `${several.output}${out.output}${all.output}`);

    const none = await sb.bridge(sb.root, ['logout', 'dropbox'], { LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url });
    assert.equal(none.code, 0);
    assert.match(none.stdout, /Not logged in to Dropbox/);
  });

  it('no client id: fails with how to register a Dropbox app', async () => {
    const r = await sb.bridge(sb.root, ['login', 'dropbox', '--no-browser', '--port', String(port)], {
      LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url,
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /App Console/);
    assert.match(flat(r.stderr), new RegExp(`http://127.0.0.1:${port}/callback`));
  });

  it('a redirect with a wrong state gets a 400 page and the login waits on for the right one', async () => {
    const cli = new Cli(
      ['login', 'dropbox', '--no-browser', '--client-id', 'test-app-key', '--port', String(port)],
      env,
      sb.root,
    );
    const url = new URL(await cli.url());
    const forged = await fetch(`http://127.0.0.1:${port}/callback?code=forged&state=not-ours`);
    assert.equal(forged.status, 400);
    assert.match(await forged.text(), /does not belong to the login/);
    const noCode = await fetch(`http://127.0.0.1:${port}/callback?state=${url.searchParams.get('state')}`);
    assert.equal(noCode.status, 400);
    const before = (await store.list('token:dropbox:')).length;
    // The user then finishes the real login: it succeeds.
    fake.setAuthorizeAccount('after-forgery');
    const approve = await fetch(url, { redirect: 'manual' });
    assert.equal((await fetch(approve.headers.get('location')!)).status, 200);
    const r = await cli.done;
    fake.setAuthorizeAccount('default');
    assert.equal(r.code, 0, describeRun('login', r));
    assert.match(flat(r.stderr), /ignored a redirect whose state did not match this login/);
    assert.equal((await store.list('token:dropbox:')).length, before + 1, 'one login stored: the real one');
    await store.delete('token:dropbox:after-forgery@example.com'); // the tests after this one start logged out
  });

  it('the page only says the code was received; a failed token exchange shows in the terminal', async () => {
    const cli = new Cli(
      ['login', 'dropbox', '--no-browser', '--client-id', 'test-app-key', '--port', String(port)],
      env,
      sb.root,
    );
    const state = new URL(await cli.url()).searchParams.get('state')!;
    // The right state with a code the server never issued: the redirect is fine, the exchange is refused.
    const page = await fetch(`http://127.0.0.1:${port}/callback?code=never-issued-code&state=${state}`);
    assert.equal(page.status, 200);
    const body = await page.text();
    assert.match(body, /Authorization received, finishing the login in the terminal/);
    assert.doesNotMatch(body, /success|logged in/i, 'nothing is claimed before the exchange');
    const r = await cli.done;
    assert.equal(r.code, 1, describeRun('login', r));
    assert.match(r.stderr, /^Authorization received: finishing the login to Dropbox\.$/m);
    assert.match(
      r.stderr,
      /\nlfs-bridge: \[dropbox\] Dropbox refused the authorization code \([^\n]*\)\nrun lfs-bridge login dropbox again\n$/,
    );
    assert.deepEqual(
      (await store.list('token:dropbox:')).map((e) => e.account),
      [],
    );
  });

  it('--timeout: gives up with a clear message', async () => {
    const r = await sb.bridge(
      sb.root,
      ['login', 'dropbox', '--no-browser', '--client-id', 'test-app-key', '--port', String(port), '--timeout', '1'],
      { LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url },
    );
    assert.notEqual(r.code, 0);
    assert.match(flat(r.stderr), /no answer from the browser within 1 s: run lfs-bridge login dropbox again/);
  });

  it('a login made under one fake is never sent to another: push and status under the other override', async () => {
    const other = await startFakeDropbox();
    try {
      fake.setAuthorizeAccount('bound');
      const cli = new Cli(['login', 'dropbox', '--paste', '--client-id', 'test-app-key'], env, sb.root);
      const code = /<code id="auth-code">([^<]+)<\/code>/.exec(await (await fetch(await cli.url())).text())![1];
      cli.child.stdin.end(`${code}\n`);
      const r = await cli.done;
      assert.equal(r.code, 0, describeRun('login', r));
      assert.match(r.stderr, new RegExp(`warning: LFS_BRIDGE_DROPBOX_ENDPOINT is set: .*${fake.url}`));
      const rec = JSON.parse((await store.get(key('bound@example.com')))!) as { endpoint?: string };
      assert.equal(rec.endpoint, fake.url, 'the login records where it was made');

      const remote = await sb.remote('bound.git');
      const work = sb.path('bound');
      await sb.gitOk(sb.root, ['init', '-q', work]);
      await sb.gitOk(work, ['remote', 'add', 'origin', remote]);
      const elsewhere = { LFS_BRIDGE_DROPBOX_ENDPOINT: other.url };
      // setup tries the store with the login: under the other override it is refused, under its own it works
      const setupElsewhere = await sb.bridge(
        work,
        ['setup', '--provider', 'dropbox', '--root', '/lfs/bound'],
        elsewhere,
      );
      assert.notEqual(setupElsewhere.code, 0, describeRun('setup under another override', setupElsewhere));
      assert.match(flat(setupElsewhere.stderr), /made under LFS_BRIDGE_DROPBOX_ENDPOINT=/);
      await sb.bridgeOk(work, ['setup', '--provider', 'dropbox', '--root', '/lfs/bound'], {
        LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url,
      });
      await sb.gitOk(work, ['lfs', 'track', '*.dat']);
      await writeFile(join(work, 'a.dat'), 'some bytes');
      await sb.gitOk(work, ['add', '.']);
      await sb.gitOk(work, ['commit', '-qm', 'a']);
      other.counters.reset();
      const push = await sb.git(work, ['push', 'origin', 'main'], elsewhere);
      assert.notEqual(push.code, 0, describeRun('push under another override', push));
      assert.match(
        flat(push.output),
        new RegExp(
          `made under LFS_BRIDGE_DROPBOX_ENDPOINT=${fake.url} but LFS_BRIDGE_DROPBOX_ENDPOINT points to ${other.url}`,
        ),
      );
      assert.deepEqual(other.counters.snapshot().requests, {}, 'not one request reached the other endpoint');
      // under the override it was made with, the same login works
      const ok = await sb.git(work, ['push', 'origin', 'main'], { LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url });
      assert.equal(ok.code, 0, describeRun('push under its own override', ok));

      const status = await sb.bridge(work, ['status'], elsewhere);
      assert.match(status.stdout, new RegExp(`Endpoint +LFS_BRIDGE_DROPBOX_ENDPOINT=${other.url}`));
      assert.match(status.stdout, new RegExp(`dropbox:bound@example.com .*\\(logged in under ${fake.url}\\)`));
      const refused = await sb.bridge(work, ['status'], { LFS_BRIDGE_DROPBOX_ENDPOINT: 'http://example.com' });
      assert.match(
        flat(refused.stdout),
        /LFS_BRIDGE_DROPBOX_ENDPOINT refused .*plain http would send your dropbox tokens/,
      );
    } finally {
      await store.delete(key('bound@example.com'));
      await other.close();
    }
  });
});
