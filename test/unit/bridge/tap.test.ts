import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { RateLimiter } from '../../../src/bridge/ratelimit.js';
import { tap } from '../../../src/bridge/tap.js';
import { BridgeError } from '../../../src/errors.js';
import { EMPTY_SHA256 } from '../../../src/hash/index.js';
import { ObjectHash } from '../../../src/hash/object-hash.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Splits `b` into pieces of `n` bytes. */
const pieces = (b: Buffer, n: number) => {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += n) out.push(b.subarray(i, i + n));
  return out;
};

/** A sink that records every byte it received. */
function sink() {
  const got: Buffer[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      got.push(Buffer.from(chunk));
      cb();
    },
  });
  return { w, bytes: () => Buffer.concat(got) };
}

describe('bridge/tap', () => {
  describe('ObjectHash', () => {
    it('hashes each byte once across overlapping re-sends', () => {
      const data = randomBytes(10_000);
      const h = new ObjectHash(sha(data), data.length);
      h.feed(data.subarray(0, 4000), 0);
      h.feed(data.subarray(1000, 6000), 1000); // a retried chunk overlapping what was hashed
      h.feed(data.subarray(2000, 3000), 2000); // entirely old
      h.feed(data.subarray(6000, 6000), 6000); // empty
      h.feed(data.subarray(6000), 6000);
      assert.equal(h.pos, data.length);
      assert.equal(h.complete, true);
      assert.equal(h.digest(), sha(data));
      assert.doesNotThrow(() => h.verify('test'));
    });

    it('refuses a gap', () => {
      const h = new ObjectHash('0'.repeat(64), 100);
      h.feed(Buffer.alloc(10), 0);
      assert.throws(() => h.feed(Buffer.alloc(10), 20), /hash gap/);
    });

    it('refuses bytes past the size as Corrupt', () => {
      const h = new ObjectHash('0'.repeat(64), 10);
      assert.throws(
        () => h.feed(Buffer.alloc(11), 0),
        (e) => e instanceof BridgeError && e.kind === 'Corrupt',
      );
    });

    it('digest() before the end throws', () => {
      const h = new ObjectHash('0'.repeat(64), 10);
      h.feed(Buffer.alloc(5), 0);
      assert.equal(h.complete, false);
      assert.throws(() => h.digest(), /before the end/);
    });

    it('verify() throws Corrupt (422) on a mismatch', () => {
      const data = Buffer.from('hello');
      const h = new ObjectHash('f'.repeat(64), data.length);
      h.feed(data, 0);
      assert.throws(
        () => h.verify('upload of x'),
        (e) => {
          assert.ok(e instanceof BridgeError);
          assert.equal(e.kind, 'Corrupt');
          assert.equal(e.code, 422);
          assert.match(e.message, new RegExp(`upload of x: SHA-256 is ${sha(data)}, expected f{64}`));
          return true;
        },
      );
    });

    it('a zero-byte object is complete at once', () => {
      const h = new ObjectHash(EMPTY_SHA256, 0);
      assert.equal(h.complete, true);
      h.verify('empty');
    });
  });

  describe('tap()', () => {
    it('passes everything through, hashing and reporting positions', async () => {
      const data = randomBytes(300_000);
      const hash = new ObjectHash(sha(data), data.length);
      const positions: number[] = [];
      const s = sink();
      await pipeline(
        Readable.from(pieces(data, 65_536)),
        tap({ hash, start: 0, onPosition: (p) => positions.push(p), verifyBeforeEnd: 'src' }),
        s.w,
      );
      assert.deepEqual(s.bytes(), data);
      assert.equal(hash.digest(), sha(data));
      assert.deepEqual(positions, [65_536, 131_072, 196_608, 262_144, 300_000]);
    });

    it('starts at an offset (resume) and skips bytes the hash already has', async () => {
      const data = randomBytes(50_000);
      const hash = new ObjectHash(sha(data), data.length);
      hash.feed(data.subarray(0, 30_000), 0);
      const s = sink();
      await pipeline(Readable.from(pieces(data.subarray(20_000), 7_000)), tap({ hash, start: 20_000 }), s.w);
      assert.deepEqual(s.bytes(), data.subarray(20_000));
      hash.verify('resumed');
    });

    it('verifyBeforeEnd: a corrupt source errors BEFORE the last piece is passed on', async () => {
      const data = randomBytes(100_000);
      const oid = sha(data);
      const bad = Buffer.from(data);
      bad[bad.length - 1] ^= 0xff; // the last byte differs
      const hash = new ObjectHash(oid, data.length);
      const s = sink();
      await assert.rejects(
        pipeline(Readable.from(pieces(bad, 10_000)), tap({ hash, start: 0, verifyBeforeEnd: '/src/obj' }), s.w),
        (e) => e instanceof BridgeError && e.kind === 'Corrupt' && /\/src\/obj/.test(e.message),
      );
      const got = s.bytes();
      assert.ok(got.length < data.length, `downstream received all ${got.length} bytes`);
      assert.equal(got.length, 90_000, 'everything but the final piece went through');
    });

    it('verifyBeforeEnd: a one-piece object never reaches downstream when corrupt', async () => {
      const hash = new ObjectHash('a'.repeat(64), 5);
      const s = sink();
      await assert.rejects(
        pipeline(Readable.from([Buffer.from('hello')]), tap({ hash, start: 0, verifyBeforeEnd: 'x' }), s.w),
        /SHA-256/,
      );
      assert.equal(s.bytes().length, 0);
    });

    it('zero-byte object: verification happens in flush', async () => {
      const ok = new ObjectHash(EMPTY_SHA256, 0);
      await pipeline(Readable.from([]), tap({ hash: ok, start: 0, verifyBeforeEnd: 'empty' }), sink().w);
      const wrong = new ObjectHash('b'.repeat(64), 0);
      await assert.rejects(
        pipeline(Readable.from([]), tap({ hash: wrong, start: 0, verifyBeforeEnd: 'empty' }), sink().w),
        (e) => e instanceof BridgeError && e.kind === 'Corrupt',
      );
    });

    it('without verifyBeforeEnd (downloads) a mismatch passes; verify() decides later', async () => {
      const hash = new ObjectHash('c'.repeat(64), 5);
      const s = sink();
      await pipeline(Readable.from([Buffer.from('hello')]), tap({ hash, start: 0 }), s.w);
      assert.equal(s.bytes().toString(), 'hello');
      assert.throws(() => hash.verify('download'), /SHA-256/);
    });

    it('a source longer than the object errors the stream with Corrupt (no uncaught exception)', async () => {
      // A server that sends more than `size` (a 200 for a different object) must fail that object, not the process.
      const hash = new ObjectHash('d'.repeat(64), 4);
      const uncaught: Error[] = [];
      const listeners = process.listeners('uncaughtException');
      process.removeAllListeners('uncaughtException');
      const onUncaught = (e: Error) => uncaught.push(e);
      process.on('uncaughtException', onUncaught);
      let result: unknown;
      try {
        result = await Promise.race([
          pipeline(Readable.from([Buffer.from('1234'), Buffer.from('5678')]), tap({ hash, start: 0 }), sink().w).then(
            () => 'resolved',
            (e) => e,
          ),
          new Promise((r) => setTimeout(() => r('hung'), 500)),
        ]);
      } finally {
        process.off('uncaughtException', onUncaught);
        for (const l of listeners) process.on('uncaughtException', l);
      }
      assert.deepEqual(
        uncaught.map((e) => e.message),
        [],
        'ObjectHash.feed threw inside transform(): an uncaught exception',
      );
      assert.ok(result instanceof BridgeError && result.kind === 'Corrupt', `pipeline ended with ${String(result)}`);
    });

    it('the rate limiter slows a stream to roughly the configured rate', async () => {
      const rate = 1024 * 1024; // 1 MiB/s, burst 256 KiB
      const data = randomBytes(1024 * 1024);
      const hash = new ObjectHash(sha(data), data.length);
      const t0 = Date.now();
      await pipeline(
        Readable.from(pieces(data, 64 * 1024)),
        tap({ hash, start: 0, rate: new RateLimiter(rate) }),
        sink().w,
      );
      const ms = Date.now() - t0;
      // (1 MiB - 256 KiB burst) / 1 MiB/s = 750 ms
      assert.ok(ms >= 550, `1 MiB at 1 MiB/s took only ${ms} ms`); // a floor only: load only slows it
      hash.verify('rate');
    });
  });
});
