/** readableFill: a Node stream as a FillBody — pauses, an end that comes while bytes wait, errors, early ends. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { type FillSink, fillToBuffer, readableFill } from '../../../src/http/fill-body.js';

describe('http/fill-body', () => {
  it('copies every chunk across region boundaries', async () => {
    const data = randomBytes(300_000);
    const chunks = [data.subarray(0, 1), data.subarray(1, 70_000), data.subarray(70_000)];
    assert.deepEqual(await fillToBuffer(readableFill(Readable.from(chunks))), data);
  });

  it('pauses when the sink has no region, and delivers the rest (and the end) on resume', async () => {
    const data = randomBytes(100_000);
    const body = readableFill(Readable.from([data.subarray(0, 60_000), data.subarray(60_000)]));
    const out = Buffer.alloc(data.length);
    let at = 0;
    let open = true;
    const sink: FillSink = {
      region: () => (open ? out.subarray(at, Math.min(out.length, at + 7000)) : null),
      filled(n) {
        at += n;
        if (at % 3 === 0) {
          open = false;
          setTimeout(() => {
            open = true;
            body.resume();
          }, 1);
        }
      },
    };
    await body.pipeTo(sink);
    assert.deepEqual(out, data);
  });

  it('a stream error rejects pipeTo; so does destroy(err); destroy() resolves', async () => {
    const failing = new PassThrough();
    const p = readableFill(failing).pipeTo({ region: () => Buffer.alloc(10), filled: () => {} });
    failing.destroy(new Error('socket hang up'));
    await assert.rejects(p, /socket hang up/);

    const s1 = new PassThrough();
    const b1 = readableFill(s1);
    const p1 = b1.pipeTo({ region: () => Buffer.alloc(10), filled: () => {} });
    b1.destroy(new Error('disk full'));
    await assert.rejects(p1, /disk full/);
    assert.ok(s1.destroyed);

    const s2 = new PassThrough();
    const b2 = readableFill(s2);
    const got = Buffer.alloc(4);
    const p2 = b2.pipeTo({
      region: () => got,
      filled: () => b2.destroy(), // enough: the rest is not wanted
    });
    s2.write('abcdefgh');
    await p2;
    assert.equal(got.toString(), 'abcd');
    assert.ok(s2.destroyed);
  });

  it('destroying an unread stream that errors on destroy (as undici bodies do) throws nothing uncaught', async () => {
    const r = new Readable({
      read() {},
      destroy(err, cb) {
        cb(err ?? new Error('Request aborted'));
      },
    });
    const body = readableFill(r);
    body.destroy(); // e.g. a 503 whose body is not wanted
    await new Promise((res) => setImmediate(res));
    await body.pipeTo({ region: () => Buffer.alloc(1), filled: () => {} }); // ended, without an error
    const failed = new Readable({ read() {} });
    const b2 = readableFill(failed);
    failed.destroy(new Error('reset'));
    await new Promise((res) => setImmediate(res));
    await assert.rejects(b2.pipeTo({ region: () => Buffer.alloc(1), filled: () => {} }), /reset/);
  });

  it('a stream that closes before its end rejects', async () => {
    const s = new PassThrough();
    const p = readableFill(s).pipeTo({ region: () => Buffer.alloc(10), filled: () => {} });
    s.destroy();
    await assert.rejects(p, /closed before its end/);
  });
});
