/** How an upload is cut into pieces for a concurrent session (the rules Dropbox sets: docs/providers.md "Uploads"). */
import assert from 'node:assert/strict';
import { cutPieces, pieceSizeFor } from '../../../src/bridge/upload-pieces.js';

const MiB = 1 << 20;
const ALIGN = 4 * MiB;

describe('bridge/upload-pieces', () => {
  it('every piece but the last starts and ends on a 4 MiB boundary; the last is the final block; no gap', () => {
    for (const size of [8 * MiB + 1, 21 * MiB, 24 * MiB, 150 * MiB + 7, 1 << 30]) {
      for (const piece of [4 * MiB, 8 * MiB, 48 * MiB]) {
        const ps = cutPieces(size, piece, ALIGN);
        let at = 0;
        for (const [i, p] of ps.entries()) {
          assert.equal(p.start, at, `no gap at ${at}`);
          assert.ok(p.end > p.start);
          if (i < ps.length - 1) {
            assert.equal(p.start % ALIGN, 0);
            assert.equal((p.end - p.start) % ALIGN, 0);
            assert.ok(p.end - p.start <= piece);
          }
          at = p.end;
        }
        assert.equal(at, size);
        const last = ps.at(-1)!;
        assert.ok(last.end - last.start <= ALIGN && last.end - last.start > 0, 'the closing piece is one block');
      }
    }
    assert.deepEqual(
      cutPieces(21 * MiB, 8 * MiB, ALIGN).map((p) => (p.end - p.start) / MiB),
      [8, 8, 4, 1],
    );
    assert.deepEqual(
      cutPieces(24 * MiB, 8 * MiB, ALIGN).map((p) => (p.end - p.start) / MiB),
      [8, 8, 4, 4],
    );
  });

  it('pieces are the chunk size, smaller when each stream would get fewer than four, never under two blocks', () => {
    assert.equal(pieceSizeFor(1 << 30, 48 * MiB, ALIGN, 4), 48 * MiB);
    assert.equal(pieceSizeFor(256 * MiB, 48 * MiB, ALIGN, 4), 16 * MiB);
    assert.equal(pieceSizeFor(20 * MiB, 48 * MiB, ALIGN, 4), 8 * MiB);
    assert.equal(pieceSizeFor(1 << 30, 4 * MiB, ALIGN, 4), 4 * MiB, 'never above the configured chunk size');
  });
});
