/**
 * The direct GET (src/http/direct-get.ts): the socket reads the body into the sink's regions. Against raw servers
 * on 127.0.0.1 (HTTP and HTTPS with a loopback certificate), byte by byte where the head may be split, with
 * pauses, early ends, stalls, aborts and answers it must leave to undici (rangeGet falls back).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { BridgeError } from '../../../src/errors.js';
import { DirectUnsupported, directGet } from '../../../src/http/direct-get.js';
import { type FillBody, type FillSink, fillToBuffer } from '../../../src/http/fill-body.js';
import { DIRECT_MIN, rangeGet, resetDispatcher, USER_AGENT } from '../../../src/http/index.js';

const TLS_DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'tls');
const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

/** A raw TCP server: `onRequest` gets the request head as text and the socket to answer on. */
async function rawServer(onRequest: (head: string, s: Socket) => void | Promise<void>) {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let head = '';
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        s.off('data', onData);
        void onRequest(head, s);
      }
    };
    s.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
  return { url, close };
}

const head200 = (len: number, extra = '') => `HTTP/1.1 200 OK\r\nContent-Length: ${len}${extra}\r\n\r\n`;

/** A sink of regions of at most `step` bytes that pauses (answers null) every `pauseEvery` regions. */
function slowSink(total: number, step: number, pauseEvery = 0, body?: () => FillBody) {
  const out = Buffer.alloc(total);
  let at = 0;
  let given = 0;
  let paused = false;
  const sink: FillSink = {
    region() {
      if (paused) return null;
      if (pauseEvery && ++given % pauseEvery === 0) {
        paused = true;
        setTimeout(() => {
          paused = false;
          body?.().resume();
        }, 2);
        return null;
      }
      return out.subarray(at, Math.min(total, at + step));
    },
    filled(n) {
      at += n;
    },
  };
  return { sink, out, got: () => at };
}

describe('http/direct-get', function () {
  this.timeout(20_000);
  const closers: (() => Promise<void>)[] = [];
  afterEach(async () => {
    await resetDispatcher();
    await Promise.all(closers.splice(0).map((c) => c()));
  });
  const serve = async (h: (head: string, s: Socket) => void | Promise<void>) => {
    const s = await rawServer(h);
    closers.push(s.close);
    return s.url;
  };

  it('sends a GET with our headers and Connection: close, and fills the regions with the body', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    let seen = '';
    const url = await serve((head, s) => {
      seen = head;
      s.write(head200(data.length, '\r\nContent-Type: application/octet-stream'));
      s.end(data);
    });
    const res = await directGet({
      url: `${url}/file?x=1`,
      headers: { Range: 'bytes=0-', 'User-Agent': USER_AGENT },
      stallMs: 5000,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'application/octet-stream');
    assert.deepEqual(await fillToBuffer(res.body), data);
    assert.match(seen, /^GET \/file\?x=1 HTTP\/1\.1\r\n/);
    assert.match(seen, /\r\nRange: bytes=0-\r\n/);
    assert.match(seen, /\r\nConnection: close\r\n/);
    assert.match(seen, new RegExp(`\\r\\nUser-Agent: ${USER_AGENT.replace(/[()+.]/g, '\\$&')}\\r\\n`));
  });

  it('reads a head that arrives a few bytes at a time, after 100 Continue and 103 Early Hints', async () => {
    const data = randomBytes(100_000);
    const url = await serve(async (_h, s) => {
      const head = `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n${head200(data.length, '\r\nX-A: 1\r\nX-A: 2')}`;
      for (let i = 0; i < head.length; i += 3) {
        s.write(head.slice(i, i + 3));
        await tick(1);
      }
      s.end(data);
    });
    const res = await directGet({ url, headers: {}, stallMs: 5000 });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-a'], '1, 2');
    assert.deepEqual(await fillToBuffer(res.body), data);
  });

  it('keeps every byte through pauses (the first read after one lands aside and is copied)', async () => {
    const data = randomBytes(2 * 1024 * 1024);
    const url = await serve((_h, s) => {
      s.write(head200(data.length));
      s.end(data);
    });
    const res = await directGet({ url, headers: {}, stallMs: 5000 });
    const { sink, out, got } = slowSink(data.length, 4096, 7, () => res.body);
    await res.body.pipeTo(sink);
    assert.equal(got(), data.length);
    assert.deepEqual(out, data);
  });

  it('finishes when the server closed while the sink was paused and the last bytes waited aside', async () => {
    const data = randomBytes(50_000);
    const url = await serve((_h, s) => {
      s.end(Buffer.concat([Buffer.from(head200(data.length)), data])); // all at once, then FIN
    });
    const res = await directGet({ url, headers: {}, stallMs: 5000 });
    await tick(50); // the FIN is in before a region is given
    const { sink, out } = slowSink(data.length, 1000, 3, () => res.body);
    await res.body.pipeTo(sink);
    assert.deepEqual(out, data);
  });

  it('takes no byte past the Content-Length', async () => {
    const url = await serve((_h, s) => {
      s.end(`${head200(5)}01234extra bytes the server should not have sent`);
    });
    const res = await directGet({ url, headers: {}, stallMs: 5000 });
    assert.equal((await fillToBuffer(res.body)).toString(), '01234');
  });

  it('a body that ends early rejects as transient, saying how many bytes are missing', async () => {
    const url = await serve((_h, s) => {
      s.end(`${head200(100)}${'x'.repeat(60)}`);
    });
    const res = await directGet({ url, headers: {}, stallMs: 5000 });
    const { sink, got } = slowSink(100, 1000);
    await assert.rejects(
      res.body.pipeTo(sink),
      (e: BridgeError) => e instanceof BridgeError && e.kind === 'Transient' && /40 bytes early/.test(e.message),
    );
    assert.equal(got(), 60, 'what did arrive was delivered');
  });

  it('an error status comes back with its headers; its body is not read', async () => {
    const url = await serve((_h, s) => {
      s.end('HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 11\r\n\r\nslow down!!');
    });
    const res = await directGet({ url, headers: {}, stallMs: 5000 });
    assert.equal(res.status, 429);
    assert.equal(res.headers['retry-after'], '7');
    assert.equal((await fillToBuffer(res.body)).length, 0);
  });

  it('a 2xx answer without a plain Content-Length is DirectUnsupported (chunked, or none)', async () => {
    for (const head of [
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      'HTTP/1.1 200 OK\r\n\r\nhello',
    ]) {
      const url = await serve((_h, s) => {
        s.end(head);
      });
      await assert.rejects(directGet({ url, headers: {}, stallMs: 5000 }), DirectUnsupported);
    }
  });

  it('what is not HTTP/1.x, or a server that closes without answering, is transient', async () => {
    const bad = await serve((_h, s) => {
      s.end('SSH-2.0-OpenSSH\r\n\r\n');
    });
    await assert.rejects(directGet({ url: bad, headers: {}, stallMs: 5000 }), /not an HTTP\/1.1 answer/);
    const mute = await serve((_h, s) => {
      s.end();
    });
    await assert.rejects(
      directGet({ url: mute, headers: {}, stallMs: 5000 }),
      (e: BridgeError) => e.kind === 'Transient' && /before answering/.test(e.message),
    );
  });

  it('no byte for stallMs fails the request as transient (in the head and in the body)', async () => {
    const quiet = await serve(() => {});
    await assert.rejects(
      directGet({ url: quiet, headers: {}, stallMs: 150 }),
      (e: BridgeError) => e.kind === 'Transient' && /no byte/.test(e.message),
    );
    const halfway = await serve((_h, s) => {
      s.write(`${head200(1000)}abc`);
    });
    const res = await directGet({ url: halfway, headers: {}, stallMs: 150 });
    await assert.rejects(fillToBuffer(res.body), /no byte/);
  });

  it('an abort signal ends the request and the body with its reason', async () => {
    const url = await serve((_h, s) => {
      s.write(`${head200(1_000_000)}${'y'.repeat(1000)}`); // and never the rest
    });
    const ac = new AbortController();
    const res = await directGet({ url, headers: {}, stallMs: 5000, signal: ac.signal });
    const done = fillToBuffer(res.body);
    setTimeout(() => ac.abort(new Error('another stream failed')), 20);
    await assert.rejects(done, /another stream failed/);
    const pre = new AbortController();
    pre.abort(new Error('too late'));
    await assert.rejects(directGet({ url, headers: {}, stallMs: 5000, signal: pre.signal }), /too late/);
  });

  it('destroy() from the sink ends the body without an error (a run that reached a taken segment)', async () => {
    const data = randomBytes(1_000_000);
    let closed = false;
    const url = await serve((_h, s) => {
      s.on('close', () => {
        closed = true;
      });
      s.write(head200(data.length));
      s.write(data.subarray(0, 100_000));
    });
    const res = await directGet({ url, headers: {}, stallMs: 5000 });
    const out = Buffer.alloc(10_000);
    let at = 0;
    await res.body.pipeTo({
      region: () => out.subarray(at),
      filled(n) {
        at += n;
        if (at === out.length) res.body.destroy();
      },
    });
    assert.deepEqual(out, data.subarray(0, 10_000));
    for (let i = 0; i < 100 && !closed; i++) await tick();
    assert.ok(closed, 'the connection was closed');
  });

  it('refuses a header value that would split the request', async () => {
    assert.throws(() => directGet({ url: 'http://127.0.0.1:9/', headers: { Range: 'bytes=0-\r\nX: y' }, stallMs: 1 }));
  });

  it('speaks HTTPS, checking the certificate (here a loopback CA)', async () => {
    const cert = readFileSync(join(TLS_DIR, 'loopback-cert.pem'));
    const key = readFileSync(join(TLS_DIR, 'loopback-key.pem'));
    const data = randomBytes(3 * 1024 * 1024);
    const server = createHttpsServer({ cert, key }, (_req, res) => {
      res.writeHead(206, { 'content-length': String(data.length - 10), 'content-range': `bytes 10-/${data.length}` });
      res.end(data.subarray(10));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(
      () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
    );
    const url = `https://localhost:${(server.address() as AddressInfo).port}/f`;
    // Paused often or never: TLS may hand over decrypted bytes after a pause, none may be lost.
    for (const pauseEvery of [0, 2, 5]) {
      const res = await directGet({ url, headers: { Range: 'bytes=10-' }, stallMs: 5000, tls: { ca: cert } });
      assert.equal(res.status, 206);
      const { sink, out } = slowSink(data.length - 10, 256 * 1024, pauseEvery, () => res.body);
      await res.body.pipeTo(sink);
      assert.deepEqual(out, data.subarray(10), `pausing every ${pauseEvery} regions`);
    }
    // trusting only a public root (mocha's NODE_EXTRA_CA_CERTS trusts the loopback certificate: .mocharc.cjs)
    await assert.rejects(
      directGet({ url, headers: {}, stallMs: 5000, tls: { ca: [rootCertificates[0]!] } }),
      /self.signed|certificate/i,
      'unknown CA',
    );
  });

  describe('rangeGet', () => {
    it('goes direct from DIRECT_MIN on; falls back to undici for a chunked answer, and keeps to it', async () => {
      const data = randomBytes(DIRECT_MIN);
      const heads: string[] = [];
      const url = await serve((head, s) => {
        heads.push(head);
        if (/Connection: close/.test(head)) {
          s.end(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n`); // the direct request: unsuitable
          return;
        }
        s.write(head200(data.length));
        s.end(data);
      });
      const res = await rangeGet({ url, env: {} }, DIRECT_MIN);
      assert.deepEqual(await fillToBuffer(res.body), data);
      assert.equal(heads.length, 2, 'asked directly, then through undici');
      await rangeGet({ url, env: {} }, DIRECT_MIN).then((r) => fillToBuffer(r.body));
      assert.equal(heads.length, 3, 'this origin is no longer asked directly');
    });

    it('stays on undici below DIRECT_MIN, with a proxy configured, or with LFS_BRIDGE_DIRECT_GET=0', async () => {
      const heads: string[] = [];
      const url = await serve((head, s) => {
        heads.push(head);
        s.end(`${head200(3)}abc`);
      });
      const viaDirect = () => heads.filter((h) => /Connection: close/.test(h)).length;
      await rangeGet({ url, env: {} }, DIRECT_MIN - 1).then((r) => fillToBuffer(r.body));
      await rangeGet({ url, env: { LFS_BRIDGE_DIRECT_GET: '0' } }, DIRECT_MIN).then((r) => fillToBuffer(r.body));
      assert.equal(viaDirect(), 0);
      await rangeGet({ url, env: {} }, DIRECT_MIN).then((r) => fillToBuffer(r.body));
      assert.equal(viaDirect(), 1, 'the same request from DIRECT_MIN on goes direct');
    });
  });
});
