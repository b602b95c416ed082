/** http/ranged-read: the checks every provider's ranged reads get, against a real server on 127.0.0.1. */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type BridgeError, notFound, transient } from '../../../src/errors.js';
import { fillToBuffer } from '../../../src/http/fill-body.js';
import { readUrlRange, type UrlTarget } from '../../../src/http/ranged-read.js';

const data = Buffer.from('0123456789abcdefghij');

describe('http/ranged-read', () => {
  let server: Server;
  let url: string;
  let answer: (req: IncomingMessage, res: ServerResponse) => void;
  const seen: (string | undefined)[] = [];
  before(async () => {
    server = createServer((req, res) => {
      seen.push(req.headers.range);
      answer(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/obj`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));
  beforeEach(() => {
    seen.length = 0;
  });

  const errors: [number, string | undefined][] = [];
  const target = (): UrlTarget => ({
    url,
    headers: { authorization: 'Bearer t' },
    onError: (status, retryAfter) => {
      errors.push([status, retryAfter]);
      return status === 404 ? notFound('gone') : transient(`status ${status}`);
    },
  });
  /** A server that honours Range (or not). */
  const serve =
    (o: { ignoreRange?: boolean; shift?: number } = {}) =>
    (req: IncomingMessage, res: ServerResponse) => {
      const m = /bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '');
      if (!m || o.ignoreRange) return res.writeHead(200, { 'content-length': data.length }).end(data);
      const from = Number(m[1]) + (o.shift ?? 0);
      const to = Number(m[2]);
      res
        .writeHead(206, { 'content-range': `bytes ${from}-${to}/${data.length}`, 'content-length': to - from + 1 })
        .end(data.subarray(from, to + 1));
    };

  it('asks no Range for the whole body, and a Range for a part; a 206 starts where asked', async () => {
    answer = serve();
    const whole = await readUrlRange(target(), data.length, 0, data.length);
    assert.equal(whole.start, 0);
    assert.deepEqual(await fillToBuffer(whole.body), data);
    const part = await readUrlRange(target(), data.length, 5, 12);
    assert.equal(part.start, 5);
    assert.deepEqual(await fillToBuffer(part.body), data.subarray(5, 12));
    assert.deepEqual(seen, [undefined, 'bytes=5-11']);
  });

  it('a 200 to a Range request is the body from byte 0, said so (start 0), never labelled as the asked start', async () => {
    answer = serve({ ignoreRange: true });
    const r = await readUrlRange(target(), data.length, 5, 12);
    assert.equal(r.start, 0);
    assert.deepEqual(await fillToBuffer(r.body), data);
  });

  it('a 206 whose Content-Range starts elsewhere is refused (Transient), not taken for the asked bytes', async () => {
    answer = serve({ shift: 1 });
    await assert.rejects(
      readUrlRange(target(), data.length, 5, 12),
      (e: BridgeError) => e.kind === 'Transient' && /starts at 6, asked 5/.test(e.message),
    );
  });

  it('416 is Transient; other statuses go to the target with their Retry-After', async () => {
    answer = (_req, res) => res.writeHead(416).end();
    await assert.rejects(readUrlRange(target(), data.length, 5, 12), (e: BridgeError) => e.kind === 'Transient');
    errors.length = 0;
    answer = (_req, res) => res.writeHead(404).end('no');
    await assert.rejects(readUrlRange(target(), data.length, 5, 12), (e: BridgeError) => e.kind === 'NotFound');
    answer = (_req, res) => res.writeHead(503, { 'retry-after': '7' }).end();
    await assert.rejects(readUrlRange(target(), data.length, 5, 12), /status 503/);
    assert.deepEqual(errors, [
      [404, undefined],
      [503, '7'],
    ]);
  });
});
