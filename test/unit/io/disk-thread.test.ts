/** The disk thread as it ships: started from the sources here, with the heap limits of the built agent. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPartFile, PIECE } from '../../../src/bridge/partfile.js';
import { diskThread, LIMITS, stopDiskThread } from '../../../src/io/disk-thread.js';

describe('io/disk-thread', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lfsb-disk-thread-'));
  });
  afterEach(async () => {
    await stopDiskThread();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs with the heap limits the built agent gives it', () => {
    const limits = diskThread().resourceLimits;
    assert.ok(limits, 'a running thread reports its limits');
    const { maxYoungGenerationSizeMb, maxOldGenerationSizeMb } = limits;
    assert.deepEqual({ maxYoungGenerationSizeMb, maxOldGenerationSizeMb }, LIMITS);
  });

  it('writes and hashes a 96 MiB download within them', async function () {
    this.timeout(60_000);
    const size = 96 * 1024 * 1024;
    const path = join(dir, 'x.part');
    await writeFile(path, '');
    const piece = randomBytes(PIECE);
    const expected = createHash('sha256');
    for (let at = 0; at < size; at += PIECE) expected.update(piece.subarray(0, Math.min(PIECE, size - at)));
    const part = await openPartFile(path, expected.copy().digest('hex'), size, true);
    try {
      for (let at = 0; at < size; at += PIECE) {
        const buf = await part.buffer();
        const n = Math.min(PIECE, size - at);
        piece.copy(buf, 0, 0, n);
        await part.write(buf, n, at);
      }
      assert.equal(await part.finish(), expected.digest('hex'));
    } finally {
      await part.close();
    }
  });
});
