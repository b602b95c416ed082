/** HTTPS_PROXY / HTTP_PROXY / NO_PROXY reach every provider request (corporate networks): proven with a loopback proxy. */

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { rangeOpener } from '../../../src/bridge/read-range.js';
import { fillToBuffer } from '../../../src/http/fill-body.js';
import { DIRECT_MIN, http, resetDispatcher, text } from '../../../src/http/index.js';
import { DropboxProvider } from '../../../src/providers/dropbox/provider.js';
import { type FakeDropbox, startFakeDropbox } from '../../fakes/dropbox/server.js';
import { startProxy } from '../../helpers/proxy.js';

describe('http: proxy environment', () => {
  let fake: FakeDropbox;
  let proxy: Awaited<ReturnType<typeof startProxy>>;
  beforeEach(async () => {
    fake = await startFakeDropbox();
    proxy = await startProxy();
    await resetDispatcher();
  });
  afterEach(async () => {
    await resetDispatcher();
    await fake.close();
    proxy.server.closeAllConnections();
    await new Promise((r) => proxy.server.close(r));
  });

  it('sends provider requests through HTTP_PROXY', async () => {
    const env = { HTTP_PROXY: proxy.url, LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url };
    const token = fake.issueToken().access;
    const p = new DropboxProvider('default', '/lfs/x', async () => token, env);
    assert.equal(await p.stat('a'.repeat(64)), null);
    const host = new URL(fake.url).host;
    assert.ok(
      proxy.seen.some((l) => l.includes(host)),
      `proxy saw ${proxy.seen}`,
    );
  });

  it('a large download range goes through the proxy too (the direct connection steps aside)', async () => {
    const env = { HTTP_PROXY: proxy.url, LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url };
    const token = fake.issueToken().access;
    const data = randomBytes(DIRECT_MIN + 1000);
    const oid = createHash('sha256').update(data).digest('hex');
    fake.files.put(`/lfs/x/${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`, data);
    const p = new DropboxProvider('default', '/lfs/x', async () => token, env);
    const r = await rangeOpener(p, env)(oid, data.length, 500, data.length);
    assert.deepEqual(await fillToBuffer(r.body), data.subarray(500));
    assert.ok(proxy.tunnelled() > data.length - 500, `the proxy carried ${proxy.tunnelled()} bytes`);
  });

  it('goes direct for hosts in NO_PROXY', async () => {
    const env = { HTTP_PROXY: proxy.url, NO_PROXY: '127.0.0.1' };
    const res = await http({ method: 'GET', url: `${fake.url}/__fake/clock`, env });
    await text(res);
    assert.equal(res.status, 200);
    assert.deepEqual(proxy.seen, []);
  });
});
