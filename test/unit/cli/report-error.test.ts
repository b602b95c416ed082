import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeError, errorText } from '../../../src/cli/report-error.js';
import { BridgeError, configError, toBridgeError } from '../../../src/errors.js';
import { http, resetDispatcher } from '../../../src/http/index.js';

/** An error shaped as Node's own (code, syscall, hostname…): for codes a test machine cannot provoke. */
const sysErr = (message: string, fields: Record<string, unknown>) => Object.assign(new Error(message), fields);
const NET = '— check the connection or HTTPS_PROXY';

const closedPort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });

describe('cli/report-error', () => {
  afterEach(() => resetDispatcher());

  it('a BridgeError: "lfs-bridge: <what>", the fix on its own line, no class name, no code', () => {
    const e = configError('--root is missing', 'run lfs-bridge setup --provider local --root <folder>');
    assert.equal(e.message, '--root is missing: run lfs-bridge setup --provider local --root <folder>');
    assert.equal(
      errorText(e, {}),
      'lfs-bridge: --root is missing\nrun lfs-bridge setup --provider local --root <folder>\n',
    );
    assert.equal(errorText(new BridgeError('Unexpected', false, 'it broke'), {}), 'lfs-bridge: it broke\n');
  });

  it('long and multi-line messages are printed as they are: no wrapping, no indent', () => {
    const long = `a ${'very '.repeat(40)}long line\n  1. a step that stays whole ${'x'.repeat(100)}`;
    assert.equal(errorText(configError(long), {}), `lfs-bridge: ${long}\n`);
  });

  it('a refused connection through the HTTP layer names the host and the reason', async () => {
    const port = await closedPort();
    const e = await http({ method: 'POST', url: `http://127.0.0.1:${port}/oauth2/token`, env: {} }).catch((x) => x);
    assert.equal(errorText(e, {}), `lfs-bridge: cannot reach 127.0.0.1:${port}: the connection was refused ${NET}\n`);
  });

  it('an untrusted TLS certificate says so, with what to do behind an inspecting proxy', async () => {
    // A certificate made now, that nothing trusts (the committed loopback one is trusted by the test run: .mocharc.cjs).
    const dir = mkdtempSync(join(tmpdir(), 'lfs-bridge-untrusted-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    const server = createHttpsServer({
      cert: readFileSync(join(dir, 'cert.pem')),
      key: readFileSync(join(dir, 'key.pem')),
    });
    rmSync(dir, { recursive: true, force: true });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      const e = await http({ method: 'GET', url: `https://127.0.0.1:${port}/x`, env: {} }).catch((x) => x);
      const [first, second] = errorText(e, {}).split('\n');
      assert.match(
        first!,
        new RegExp(
          `^lfs-bridge: cannot reach 127\\.0\\.0\\.1:${port}: its TLS certificate is not trusted \\([A-Z_]+\\) ${NET}$`,
        ),
      );
      assert.match(second!, /NODE_EXTRA_CA_CERTS/);
    } finally {
      server.close();
    }
  });

  for (const [code, reason] of [
    ['ENOTFOUND', 'the host name does not resolve'],
    ['EAI_AGAIN', 'the host name lookup failed (DNS not answering)'],
    ['ETIMEDOUT', 'the connection timed out'],
    ['ECONNRESET', 'the connection was reset'],
    ['UND_ERR_CONNECT_TIMEOUT', 'the connection timed out'],
    ['CERT_HAS_EXPIRED', 'its TLS certificate is not trusted (CERT_HAS_EXPIRED)'],
  ] as const) {
    it(`${code} under the HTTP layer's wrapping: cannot reach <host>: ${reason}`, () => {
      const cause = sysErr(`getaddrinfo ${code} api.dropboxapi.com`, { code, syscall: 'connect', hostname: 'x' });
      const e = toBridgeError(cause, 'POST https://api.dropboxapi.com/oauth2/token');
      assert.equal(describeError(e).what, `cannot reach api.dropboxapi.com: ${reason} ${NET}`);
      assert.doesNotMatch(errorText(e, {}), /BridgeError|Code:|Caused by|getaddrinfo/);
    });
  }

  it("a network error without a URL falls back to the socket's host name", () => {
    const e = sysErr('getaddrinfo ENOTFOUND content.dropboxapi.com', {
      code: 'ENOTFOUND',
      hostname: 'content.dropboxapi.com',
    });
    assert.equal(
      describeError(new TypeError('fetch failed', { cause: e })).what,
      `cannot reach content.dropboxapi.com: the host name does not resolve ${NET}`,
    );
  });

  it('a real file-system error: "cannot <verb> <path>: <reason>"', async () => {
    const e = await mkdir('/proc/self/no/such/dir').catch((x) => x);
    assert.equal(errorText(e, {}), 'lfs-bridge: cannot create /proc/self/no/such/dir: no such file or folder\n');
    const wrapped = toBridgeError(
      sysErr("EACCES: permission denied, open '/srv/store/x'", {
        code: 'EACCES',
        syscall: 'open',
        path: '/srv/store/x',
      }),
    );
    assert.equal(describeError(wrapped).what, 'cannot open /srv/store/x: permission denied');
    const rename = sysErr('EXDEV', { code: 'EXDEV', syscall: 'rename', path: '/a', dest: '/b' });
    assert.equal(describeError(rename).what, 'cannot rename /a to /b: it is on another file system');
  });

  it('a wrapper that words the failure itself keeps its words', () => {
    const cause = sysErr("ENOENT: no such file or directory, open '/x'", {
      code: 'ENOENT',
      syscall: 'open',
      path: '/x',
    });
    const e = new BridgeError('NotFound', false, 'the object is not in the store', { cause });
    assert.equal(errorText(e, {}), 'lfs-bridge: the object is not in the store\n');
  });

  it('a program that cannot be started', () => {
    const e = sysErr('spawn git ENOENT', { code: 'ENOENT', syscall: 'spawn git', path: 'git' });
    assert.equal(describeError(e).what, 'cannot run git: not found (is it installed and on PATH?)');
  });

  it("oclif's own errors keep their exit code; suggestions become the fix line", () => {
    const parse = Object.assign(
      new Error('Expected --provider=x to be one of: local, dropbox\nSee more help with --help'),
      {
        oclif: { exit: 2 },
      },
    );
    assert.deepEqual(describeError(parse), {
      what: 'Expected --provider=x to be one of: local, dropbox\nSee more help with --help',
      fix: undefined,
      exitCode: 2,
    });
    const notFound = Object.assign(new Error('command nosuch not found'), { suggestions: ['lfs-bridge status'] });
    assert.equal(errorText(notFound, {}), 'lfs-bridge: command nosuch not found\nlfs-bridge status\n');
  });

  it('LFS_BRIDGE_DEBUG: the stack, then every cause', () => {
    const cause = new Error('the root cause');
    const e = new BridgeError('Unexpected', false, 'on top', { cause });
    assert.equal(errorText(e, { LFS_BRIDGE_DEBUG: '0' }), 'lfs-bridge: on top\n');
    const text = errorText(e, { LFS_BRIDGE_DEBUG: '1' });
    assert.match(text, /^lfs-bridge: on top\nBridgeError\(Unexpected\): on top\n\s+at /);
    assert.match(text, /\ncaused by: Error: the root cause\n\s+at /);
  });
});
