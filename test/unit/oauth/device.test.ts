import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BridgeError } from '../../../src/errors.js';
import { DEVICE_GRANT, deviceFlow } from '../../../src/oauth/device.js';
import type { OAuthSpec } from '../../../src/oauth/spec.js';

/** A device-flow server: /device/code, then /token answering the scripted errors in turn, then tokens. */
async function deviceServer(
  script: { status: number; error?: string; reset?: boolean }[],
  verificationKey = 'verification_url',
) {
  const polls: URLSearchParams[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => {
      body += c;
    });
    req.on('end', () => {
      const form = new URLSearchParams(body);
      const send = (status: number, v: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(v));
      };
      if (req.url === '/device/code') {
        assert.match(req.headers['content-type'] ?? '', /^application\/x-www-form-urlencoded\b/);
        return send(200, {
          device_code: 'dev-code-123456789',
          user_code: 'ABCD-EFGH',
          [verificationKey]: 'https://www.google.com/device',
          expires_in: 1800,
          interval: 1,
        });
      }
      if (req.url === '/token') {
        polls.push(form);
        const next = script.shift();
        if (next?.reset) return req.socket.destroy(); // the network drops this poll
        if (next && !next.error && next.status >= 500) return send(next.status, {});
        if (next?.error) return send(next.status, { error: next.error, error_description: `desc of ${next.error}` });
        return send(200, {
          access_token: 'device-access-token-1',
          token_type: 'Bearer',
          refresh_token: 'device-refresh-1',
          expires_in: 3599,
        });
      }
      send(404, {});
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, polls, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const spec: OAuthSpec = {
  provider: 'gdrive',
  title: 'Google Drive',
  authorizeUrl: 'https://accounts.google.com/o/oauth2/v2/auth',
  tokenUrl: 'https://oauth2.googleapis.com/token',
  deviceCodeUrl: 'https://oauth2.googleapis.com/device/code',
  scopes: ['https://www.googleapis.com/auth/drive.file'],
  extraAuthorizeParams: {},
  redirect: { kind: 'any-port', host: '127.0.0.1', path: '/' },
  rotatesRefreshTokens: false,
  sendsClientSecret: true,
  pasteCode: false,
  clientIdHelp: () => 'help',
  identify: async () => ({}),
};

describe('oauth/device (RFC 8628)', () => {
  it('polls at the interval, waits 5 s more after slow_down, keys on `error` whatever the status', async () => {
    // Google answers polling errors with varied statuses (428 for pending, 403 for slow_down).
    const srv = await deviceServer([
      { status: 428, error: 'authorization_pending' },
      { status: 403, error: 'slow_down' },
      { status: 400, error: 'authorization_pending' },
    ]);
    const slept: number[] = [];
    const prompts: { url: string; userCode: string }[] = [];
    try {
      const tokens = await deviceFlow(spec, {
        env: { LFS_BRIDGE_GDRIVE_ENDPOINT: srv.url },
        clientId: 'tv-client',
        clientSecret: 'tv-secret',
        prompt: (p) => prompts.push(p),
        sleep: async (ms) => {
          slept.push(ms);
        },
      });
      assert.equal(tokens.access_token, 'device-access-token-1');
      assert.deepEqual(slept, [1000, 1000, 6000, 6000]);
      assert.deepEqual(
        prompts.map((p) => [p.url, p.userCode]),
        [['https://www.google.com/device', 'ABCD-EFGH']],
      );
      assert.equal(srv.polls.length, 4);
      for (const p of srv.polls) {
        assert.equal(p.get('grant_type'), DEVICE_GRANT);
        assert.equal(p.get('device_code'), 'dev-code-123456789');
        assert.equal(p.get('client_id'), 'tv-client');
        assert.equal(p.get('client_secret'), 'tv-secret');
      }
    } finally {
      await srv.close();
    }
  });

  it('a poll lost to the network or a 5xx does not end the login: polling goes on, backing off, until approved', async () => {
    const srv = await deviceServer([
      { status: 428, error: 'authorization_pending' },
      { status: 0, reset: true },
      { status: 503 },
      { status: 428, error: 'authorization_pending' },
    ]);
    const slept: number[] = [];
    try {
      const tokens = await deviceFlow(spec, {
        env: { LFS_BRIDGE_GDRIVE_ENDPOINT: srv.url },
        clientId: 'tv-client',
        clientSecret: 'tv-secret',
        prompt: () => {},
        sleep: async (ms) => {
          slept.push(ms);
        },
      });
      assert.equal(tokens.access_token, 'device-access-token-1');
      assert.equal(srv.polls.length, 5);
      assert.equal(slept.length, 5);
      assert.ok(slept.every((ms) => ms >= 1000));
    } finally {
      await srv.close();
    }
  });

  it('accepts RFC 8628 verification_uri too', async () => {
    const srv = await deviceServer([], 'verification_uri');
    try {
      let url = '';
      await deviceFlow(spec, {
        env: { LFS_BRIDGE_GDRIVE_ENDPOINT: srv.url },
        clientId: 'c',
        clientSecret: 's',
        prompt: (p) => {
          url = p.url;
        },
        sleep: async () => {},
      });
      assert.equal(url, 'https://www.google.com/device');
    } finally {
      await srv.close();
    }
  });

  for (const [error, re] of [
    ['access_denied', /the login was denied/],
    ['expired_token', /the device code expired: run lfs-bridge login gdrive --device again/],
  ] as const) {
    it(`${error} ends the flow with an Auth error`, async () => {
      const srv = await deviceServer([
        { status: 428, error: 'authorization_pending' },
        { status: 400, error },
      ]);
      try {
        await assert.rejects(
          deviceFlow(spec, {
            env: { LFS_BRIDGE_GDRIVE_ENDPOINT: srv.url },
            clientId: 'c',
            clientSecret: 's',
            prompt: () => {},
            sleep: async () => {},
          }),
          (e: BridgeError) => e.kind === 'Auth' && re.test(e.message),
        );
      } finally {
        await srv.close();
      }
    });
  }

  it('a provider without a device endpoint is a Config error', async () => {
    await assert.rejects(
      deviceFlow(
        { ...spec, deviceCodeUrl: undefined, pasteCode: true, title: 'Dropbox' },
        {
          env: {},
          clientId: 'c',
          prompt: () => {},
        },
      ),
      /Dropbox has no device login: use --paste or --no-browser/,
    );
  });
});
