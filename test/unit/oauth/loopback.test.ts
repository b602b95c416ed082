import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { BridgeError } from '../../../src/errors.js';
import { type LoopbackOptions, startLoopback } from '../../../src/oauth/loopback.js';
import { itWhere } from '../../helpers/platform.js';

const base: LoopbackOptions = {
  hosts: ['127.0.0.1'],
  port: 0,
  path: '/callback',
  state: 'the-state-1234',
  timeoutMs: 10_000,
  title: 'Dropbox',
  provider: 'dropbox',
};

const get = (url: string) =>
  fetch(url, { redirect: 'manual' }).then(async (r) => ({ status: r.status, body: await r.text() }));

const ipv6 = await new Promise<boolean>((resolve) => {
  const s = createServer();
  s.once('error', () => resolve(false));
  s.listen(0, '::1', () => s.close(() => resolve(true)));
});

describe('oauth/loopback', () => {
  it('takes one redirect with the right state, answers a closing page, then stops listening', async () => {
    const lb = await startLoopback(base);
    const r = await get(`http://127.0.0.1:${lb.port}/callback?code=abc123&state=the-state-1234`);
    assert.equal(r.status, 200);
    assert.match(r.body, /Authorization received, finishing the login in the terminal\. You can close this tab/);
    // The code is not exchanged yet: the page must not claim the login worked.
    assert.doesNotMatch(r.body, /success|logged in|complete/i);
    assert.equal(await lb.code, 'abc123');
    await lb.close();
    await assert.rejects(get(`http://127.0.0.1:${lb.port}/callback`), 'the server is gone after the redirect');
  });

  it('a wrong state or a missing code answers 400 and the login waits on for the right redirect', async () => {
    const ignored: string[] = [];
    const lb = await startLoopback({ ...base, onIgnored: (why) => ignored.push(why) });
    const r = await get(`http://127.0.0.1:${lb.port}/callback?code=abc123&state=forged`);
    assert.equal(r.status, 400);
    assert.match(r.body, /its state does not match/);
    const none = await get(`http://127.0.0.1:${lb.port}/callback?state=the-state-1234`);
    assert.equal(none.status, 400);
    assert.equal(ignored.length, 2);
    assert.match(ignored[0], /state did not match this login.*still waiting/);
    assert.equal((await get(`http://127.0.0.1:${lb.port}/callback?code=real&state=the-state-1234`)).status, 200);
    assert.equal(await lb.code, 'real');
    await lb.close();
  });

  it('other paths get 404 without ending the wait', async () => {
    const lb = await startLoopback(base);
    assert.equal((await get(`http://127.0.0.1:${lb.port}/favicon.ico`)).status, 404);
    assert.equal((await get(`http://127.0.0.1:${lb.port}/callback?code=c0de&state=the-state-1234`)).status, 200);
    assert.equal(await lb.code, 'c0de');
    await lb.close();
  });

  it('an error redirect (access_denied) fails with the reason', async () => {
    const lb = await startLoopback(base);
    const r = await get(
      `http://127.0.0.1:${lb.port}/callback?error=access_denied&error_description=The+user+chose+not+to+give+your+app+access&state=the-state-1234`,
    );
    assert.equal(r.status, 400);
    await assert.rejects(lb.code, /access was denied in the browser: access_denied \(The user chose not/);
    await lb.close();
  });

  it('times out with a message naming the fix', async function () {
    // Were the 0.3 s timeout not kept, no rejection would come: this bound (not a wall-clock assertion) says so.
    this.timeout(60_000);
    const lb = await startLoopback({ ...base, timeoutMs: 300, timeoutHint: '--paste works without a redirect' });
    await assert.rejects(lb.code, (e: BridgeError) => {
      assert.equal(e.kind, 'Auth');
      assert.match(
        e.message,
        /no answer from the browser within 0.3 s: run lfs-bridge login dropbox again \(--timeout SECONDS waits longer; --paste works/,
      );
      return true;
    });
    await lb.close();
  });

  it('a fixed port already in use is a Config error with the hint', async () => {
    const first = await startLoopback(base);
    await assert.rejects(startLoopback({ ...base, port: first.port, portHint: 'pass --port N' }), (e: BridgeError) => {
      assert.equal(e.kind, 'Config');
      assert.match(e.message, new RegExp(`port ${first.port} on 127.0.0.1 is in use.*pass --port N`));
      return true;
    });
    await first.close();
  });

  itWhere(ipv6, 'an IPv6 loopback', 'listens on 127.0.0.1 and ::1 on one port for localhost redirects', async () => {
    const lb = await startLoopback({ ...base, hosts: ['127.0.0.1', '::1'], path: '/' });
    assert.equal((await get(`http://[::1]:${lb.port}/nope`)).status, 404);
    assert.equal((await get(`http://127.0.0.1:${lb.port}/nope`)).status, 404);
    assert.equal((await get(`http://[::1]:${lb.port}/?code=v6&state=the-state-1234`)).status, 200);
    assert.equal(await lb.code, 'v6');
    await lb.close();
  });
});
