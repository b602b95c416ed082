import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RateLimiter } from '../../../src/bridge/ratelimit.js';

const KiB = 1024;

/** A clock that moves only when told. */
function clock() {
  let t = 1_000_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('bridge/ratelimit: RateLimiter', () => {
  it('lets a burst through at once, then asks to wait in proportion', () => {
    const r = new RateLimiter(1024 * KiB, clock().now); // burst 256 KiB
    assert.equal(r.take(256 * KiB), 0);
    assert.equal(r.take(512 * KiB), 500, '512 KiB at 1 MiB/s');
  });

  it('holds the rate exactly, never below it: 4 MiB past the burst at 1 MiB/s take 4 s', () => {
    const c = clock();
    const r = new RateLimiter(1024 * KiB, c.now);
    const t0 = c.now();
    let sent = 0;
    while (sent < 256 * KiB + 4 * 1024 * KiB) {
      c.advance(r.take(64 * KiB)); // the caller waits what it is told, then sends
      sent += 64 * KiB;
    }
    assert.equal(c.now() - t0, 4000);
  });

  it('has a burst of at least 64 KiB for slow rates', () => {
    const r = new RateLimiter(1 * KiB);
    assert.equal(r.take(64 * KiB), 0);
    assert.ok(r.take(1 * KiB) >= 900);
  });

  it('refills with time, up to the burst', () => {
    const c = clock();
    const r = new RateLimiter(1024 * KiB, c.now);
    r.take(256 * KiB);
    c.advance(120);
    assert.equal(r.take(64 * KiB), 0, '120 ms at 1 MiB/s refilled > 64 KiB');
    c.advance(60_000);
    assert.equal(r.take(256 * KiB), 0);
    assert.equal(r.take(1 * KiB), 1, 'a minute idle refills the burst, not more');
  });

  it('stream() slows a stream to roughly the rate, and one bucket is shared', async () => {
    const r = new RateLimiter(2048 * KiB); // burst 512 KiB
    const run = () =>
      pipeline(
        Readable.from(Array.from({ length: 16 }, () => Buffer.alloc(64 * KiB))),
        r.stream(),
        new Writable({
          write(_c, _e, cb) {
            cb();
          },
        }),
      );
    const t0 = Date.now();
    await Promise.all([run(), run()]); // 2 MiB together
    const ms = Date.now() - t0;
    // (2 MiB - 512 KiB) / 2 MiB/s = 750 ms. Only a floor: a busy machine makes it slower, never faster (that the
    // limiter does not hold back more than the rate is the exact clock test above).
    assert.ok(ms >= 550, `2 MiB at 2 MiB/s over two streams took only ${ms} ms`);
  });
});
