/** The disk thread's whole-file digest: the provider's content hash of an upload source, computed apart. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileDigest } from '../../../src/bridge/disk-thread.js';
import { DropboxContentHasher } from '../../../src/hash/dropbox-content-hash.js';

describe('bridge/disk-thread', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lfsb-disk-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('computes the Dropbox content_hash of a file, across block and read boundaries', async () => {
    const data = randomBytes(9 * 1024 * 1024 + 123);
    const path = join(dir, 'a.bin');
    await writeFile(path, data);
    const h = new DropboxContentHasher();
    h.update(data);
    assert.equal(await fileDigest(path, 'dropbox', data.length), h.digest());
  });

  it('a file of another size than expected fails instead of hashing a guess', async () => {
    const path = join(dir, 'b.bin');
    await writeFile(path, randomBytes(1000));
    await assert.rejects(fileDigest(path, 'dropbox', 1001), /holds 1000 bytes, expected 1001/);
  });

  it('a missing file fails with ENOENT, and the thread goes on serving', async () => {
    await assert.rejects(
      fileDigest(join(dir, 'missing'), 'dropbox', 1),
      (e: NodeJS.ErrnoException) => e.code === 'ENOENT',
    );
    const path = join(dir, 'c.bin');
    await writeFile(path, Buffer.alloc(0));
    const h = new DropboxContentHasher();
    assert.equal(await fileDigest(path, 'dropbox', 0), h.digest());
  });
});
