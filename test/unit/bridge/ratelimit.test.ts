import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RateLimiter } from '../../../src/bridge/ratelimit.js';

const KiB = 1024;

describe('bridge/ratelimit: RateLimiter', () => {
  it('lets a burst through at once, then asks to wait in proportion', () => {
    const r = new RateLimiter(1024 * KiB); // burst 256 KiB
    assert.equal(r.take(256 * KiB), 0);
    const wait = r.take(512 * KiB);
    assert.ok(wait >= 450 && wait <= 520, `wait ${wait} ms for 512 KiB at 1 MiB/s`);
  });

  it('has a burst of at least 64 KiB for slow rates', () => {
    const r = new RateLimiter(1 * KiB);
    assert.equal(r.take(64 * KiB), 0);
    assert.ok(r.take(1 * KiB) >= 900);
  });

  it('refills with time', async () => {
    const r = new RateLimiter(1024 * KiB);
    r.take(256 * KiB);
    await new Promise((res) => setTimeout(res, 120));
    assert.equal(r.take(64 * KiB), 0, '120 ms at 1 MiB/s refilled > 64 KiB');
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
    // (2 MiB - 512 KiB) / 2 MiB/s = 750 ms
    assert.ok(ms >= 550, `2 MiB at 2 MiB/s over two streams took only ${ms} ms`);
    assert.ok(ms < 2_500, `took ${ms} ms`);
  });
});
