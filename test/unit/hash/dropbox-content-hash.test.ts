import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  DROPBOX_HASH_BLOCK,
  DropboxContentHasher,
  dropboxContentHash,
} from '../../../src/hash/dropbox-content-hash.js';

// n × 'A' vectors from rclone backend/dropbox/dbhash/dbhash_test.go (docs/providers.md "content_hash").
const vectors: [number, string][] = [
  [0, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
  [1, '1cd6ef71e6e0ff46ad2609d403dc3fee244417089aa4461245a4e4fe23a55e42'],
  [4194304, 'd4d63bac5b866c71620185392a8a6218ac1092454a2d16f820363b69852befa3'],
  [4194305, '8f553da8d00d0bf509d8470e242888be33019c20c0544811f5b2b89e98360b92'],
  [8388608, 'e08b3ba1f538804075c5f939accdeaa9efc7b5c01865c94a41e78ca6550a88e7'],
];

/** The definition, block by block, as an independent reference. */
function reference(b: Buffer): string {
  const outer = createHash('sha256');
  for (let i = 0; i < b.length; i += DROPBOX_HASH_BLOCK) {
    outer.update(
      createHash('sha256')
        .update(b.subarray(i, i + DROPBOX_HASH_BLOCK))
        .digest(),
    );
  }
  return outer.digest('hex');
}

/** Feeds `b` in random pieces (including empty ones) and returns the digest. */
function hashInPieces(b: Buffer, rnd: () => number, maxPiece: number): string {
  const h = new DropboxContentHasher();
  let off = 0;
  while (off < b.length) {
    const n = Math.min(b.length - off, Math.floor(rnd() * maxPiece));
    h.update(b.subarray(off, off + n));
    off += n;
  }
  return h.digest();
}

/** Small deterministic PRNG (mulberry32) so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('DropboxContentHasher', () => {
  for (const [n, want] of vectors) {
    it(`hashes ${n} × 'A' in one update`, () => {
      assert.equal(dropboxContentHash(Buffer.alloc(n, 'A')), want);
    });
  }

  it('gives the vectors for 1-byte, odd-sized and block-crossing splits', () => {
    const b = Buffer.alloc(4194305, 'A');
    const h = new DropboxContentHasher();
    h.update(b.subarray(0, 1)).update(b.subarray(1, 1)).update(b.subarray(1, 4194303)).update(b.subarray(4194303));
    assert.equal(h.digest(), vectors[3]![1]);
    const big = Buffer.alloc(8388608, 'A');
    const h2 = new DropboxContentHasher();
    for (let i = 0; i < big.length; i += 1_000_003) h2.update(big.subarray(i, i + 1_000_003));
    assert.equal(h2.digest(), vectors[4]![1]);
  });

  it('matches the reference for random data and random splits', () => {
    const rnd = prng(42);
    for (const size of [0, 7, DROPBOX_HASH_BLOCK - 1, DROPBOX_HASH_BLOCK, 2 * DROPBOX_HASH_BLOCK + 12345]) {
      const data = randomBytes(size);
      const want = reference(data);
      assert.equal(dropboxContentHash(data), want, `size ${size}`);
      for (const maxPiece of [3, 65536, 3 * 1024 * 1024, 9 * 1024 * 1024]) {
        if (maxPiece < 1000 && size > 100_000) continue; // keeps the suite fast
        assert.equal(hashInPieces(data, rnd, maxPiece), want, `size ${size}, pieces ≤ ${maxPiece}`);
      }
    }
  });

  it('copy() forks the state', () => {
    const data = randomBytes(DROPBOX_HASH_BLOCK + 100);
    const h = new DropboxContentHasher().update(data.subarray(0, 5000));
    const fork = h.copy().update(Buffer.from('junk'));
    h.update(data.subarray(5000));
    assert.equal(h.digest(), reference(data));
    assert.notEqual(fork.digest(), reference(data));
  });

  it('refuses use after digest()', () => {
    const h = new DropboxContentHasher();
    h.digest();
    assert.throws(() => h.update(Buffer.from('x')));
    assert.throws(() => h.digest());
  });

  it('costs about one SHA-256 pass over the bytes (a ratio, measured side by side)', function () {
    this.timeout(60_000);
    const chunk = randomBytes(1024 * 1024);
    const time = (f: () => void) => {
      const t0 = process.hrtime.bigint();
      f();
      return Number(process.hrtime.bigint() - t0);
    };
    const content = () => {
      const h = new DropboxContentHasher();
      for (let i = 0; i < 64; i++) h.update(chunk);
      h.digest();
    };
    const plain = () => {
      const h = createHash('sha256');
      for (let i = 0; i < 64; i++) h.update(chunk);
      h.digest();
    };
    // Interleaved, best of five each: a busy machine slows both alike, and the best run is the least disturbed.
    let best = { content: Number.POSITIVE_INFINITY, plain: Number.POSITIVE_INFINITY };
    for (let i = 0; i < 5; i++) {
      best = { content: Math.min(best.content, time(content)), plain: Math.min(best.plain, time(plain)) };
    }
    const ratio = best.content / best.plain;
    assert.ok(ratio < 2, `the content hash took ${ratio.toFixed(2)}x a plain SHA-256 of the same 64 MiB`);
  });
});
