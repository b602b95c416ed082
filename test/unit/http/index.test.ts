/**
 * src/http uses undici's own `request` (the undici package), which nock 14 does not intercept (nock hooks
 * node:http and the global fetch): these tests run against small real servers on 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { BridgeError } from '../../../src/errors.js';
import {
  drain,
  endpointFor,
  header,
  http,
  rebase,
  redactUrl,
  resetDispatcher,
  text,
  USER_AGENT,
} from '../../../src/http/index.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

async function serve(handler: Handler): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => handler(req, res, Buffer.concat(parts)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

const close = (s: Server) =>
  new Promise<void>((r) => {
    s.closeAllConnections();
    s.close(() => r());
  });

/** No proxy for the local servers, whatever the developer's shell has. */
const direct: NodeJS.ProcessEnv = {};

describe('http', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await resetDispatcher();
    await Promise.all(servers.splice(0).map(close));
  });
  const start = async (h: Handler) => {
    const s = await serve(h);
    servers.push(s.server);
    return s.url;
  };

  describe('http()', () => {
    it('sends method, headers, body and our User-Agent; returns status, headers, body', async () => {
      let seen: { method?: string; ua?: string; auth?: string; body?: string } = {};
      const url = await start((req, res, body) => {
        seen = {
          method: req.method,
          ua: req.headers['user-agent'],
          auth: req.headers.authorization,
          body: body.toString(),
        };
        res.setHeader('x-one', 'a');
        res.setHeader('set-cookie', ['c=1', 'd=2']);
        res.end('hello');
      });
      const res = await http({
        method: 'PUT',
        url: `${url}/obj`,
        headers: { authorization: 'Bearer t0k3n' },
        body: Buffer.from('payload'),
        env: direct,
      });
      assert.equal(res.status, 200);
      assert.equal(header(res, 'X-One'), 'a');
      assert.equal(header(res, 'set-cookie'), 'c=1');
      assert.equal(header(res, 'x-missing'), undefined);
      assert.equal(await text(res), 'hello');
      assert.deepEqual(seen, { method: 'PUT', ua: USER_AGENT, auth: 'Bearer t0k3n', body: 'payload' });
    });

    it('streams a Readable body', async () => {
      let got = 0;
      const url = await start((_req, res, body) => {
        got = body.length;
        res.end();
      });
      const chunks = Array.from({ length: 10 }, () => Buffer.alloc(100_000, 7));
      const res = await http({
        method: 'POST',
        url,
        headers: { 'content-length': '1000000' },
        body: Readable.from(chunks),
        env: direct,
      });
      await drain(res);
      assert.equal(got, 1_000_000);
    });

    it('never follows redirects', async () => {
      const url = await start((_req, res) => {
        res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' });
        res.end();
      });
      const res = await http({ method: 'GET', url, env: direct });
      assert.equal(res.status, 302);
      assert.equal(header(res, 'location'), 'http://127.0.0.1:1/elsewhere');
      await drain(res);
    });

    it('a connection reset is a retryable Transient BridgeError; the query string stays out of the message', async () => {
      const url = await start((req) => {
        req.socket.destroy();
      });
      await assert.rejects(http({ method: 'GET', url: `${url}/file?upload_id=SECRET123`, env: direct }), (e) => {
        assert.ok(e instanceof BridgeError, String(e));
        assert.equal(e.kind, 'Transient');
        assert.equal(e.retryable, true);
        assert.equal(e.code, 503);
        assert.ok(e.message.startsWith(`GET ${url}/file?…: `), e.message);
        assert.ok(!e.message.includes('SECRET123'));
        return true;
      });
    });

    it('a reset while the body is being read is a Transient error from text()', async () => {
      const url = await start((_req, res) => {
        res.writeHead(200, { 'content-length': '1000' });
        res.write('partial');
        setTimeout(() => res.socket?.destroy(), 20);
      });
      const res = await http({ method: 'GET', url, env: direct });
      await assert.rejects(text(res), (e) => e instanceof BridgeError && e.kind === 'Transient');
    });

    it('a refused connection is Transient', async () => {
      const url = await start((_req, res) => res.end());
      await Promise.all(servers.splice(0).map(close)); // the port is free again: nothing listens
      await assert.rejects(
        http({ method: 'GET', url, env: direct }),
        (e) => e instanceof BridgeError && e.kind === 'Transient' && e.retryable,
      );
    });

    it('an aborted request is not retryable', async () => {
      const url = await start(() => {
        // never answers
      });
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 30);
      await assert.rejects(http({ method: 'GET', url, signal: ac.signal, env: direct }), (e) => {
        assert.ok(e instanceof BridgeError);
        assert.equal(e.retryable, false);
        return true;
      });
    });

    it('goes through HTTP_PROXY when set (CONNECT tunnel), and around it for NO_PROXY hosts', async function () {
      this.timeout(10_000);
      const target = await start((req, res) => res.end(`hello ${req.url}`));
      const port = new URL(target).port;
      const tunnels: string[] = [];
      const proxyServer = createServer((_req, res) => {
        res.writeHead(500);
        res.end('expected CONNECT');
      });
      proxyServer.on('connect', (req: IncomingMessage, client: Socket) => {
        tunnels.push(String(req.url));
        const upstream = connect(Number(port), '127.0.0.1', () => {
          client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
          upstream.pipe(client);
          client.pipe(upstream);
        });
        upstream.on('error', () => client.destroy());
        client.on('error', () => upstream.destroy());
      });
      await new Promise<void>((r) => proxyServer.listen(0, '127.0.0.1', r));
      servers.push(proxyServer);
      const proxy = `http://127.0.0.1:${(proxyServer.address() as AddressInfo).port}`;
      await resetDispatcher();
      const env = { HTTP_PROXY: proxy, NO_PROXY: '127.0.0.1' };
      const res = await http({ method: 'GET', url: `http://localhost:${port}/v2/x`, env });
      assert.equal(await text(res), 'hello /v2/x');
      assert.deepEqual(tunnels, [`localhost:${port}`]);
      const res2 = await http({ method: 'GET', url: `${target}/direct`, env });
      assert.equal(await text(res2), 'hello /direct');
      assert.equal(tunnels.length, 1, 'a NO_PROXY host went through the proxy');
    });
  });

  describe('endpointFor / rebase / redactUrl', () => {
    it('endpointFor reads LFS_BRIDGE_<P>_ENDPOINT without trailing slashes', () => {
      assert.equal(
        endpointFor('dropbox', { LFS_BRIDGE_DROPBOX_ENDPOINT: 'http://127.0.0.1:9000//' }),
        'http://127.0.0.1:9000',
      );
      assert.equal(endpointFor('gdrive', { LFS_BRIDGE_GDRIVE_ENDPOINT: 'https://h/base' }), 'https://h/base');
      assert.equal(endpointFor('onedrive', {}), undefined);
      assert.equal(endpointFor('onedrive', { LFS_BRIDGE_ONEDRIVE_ENDPOINT: '' }), undefined);
    });

    it('rebase replaces scheme and host, keeps path and query', () => {
      assert.equal(
        rebase('https://content.dropboxapi.com/2/files/upload?x=1', 'http://127.0.0.1:9000'),
        'http://127.0.0.1:9000/2/files/upload?x=1',
      );
      assert.equal(rebase('https://graph.microsoft.com/v1.0/me', 'http://gw/prefix'), 'http://gw/prefix/v1.0/me');
      assert.equal(rebase('https://a/b', undefined), 'https://a/b');
    });

    it('redactUrl hides query strings (bearer capabilities)', () => {
      assert.equal(
        redactUrl('https://upload.example.com/session/123?upload_id=abc&sig=xyz'),
        'https://upload.example.com/session/123?…',
      );
      assert.equal(redactUrl('https://a.example/b'), 'https://a.example/b');
      assert.equal(redactUrl('not a url ?token=1'), '(url)');
    });
  });
});

describe('http/undici', () => {
  it('loads the three parts of undici it uses, not its whole index (80-100 ms per agent process)', async () => {
    const { loadedFrom } = await import('../../../src/http/undici.js');
    assert.equal(loadedFrom, 'parts');
  });
});
