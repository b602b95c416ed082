/** The upload hash on the disk thread: SHA-256 and the provider's hash of exactly the bytes sent. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ThreadedObjectHash } from '../../../src/bridge/upload-hash.js';
import { BridgeError } from '../../../src/errors.js';
import { DropboxContentHasher } from '../../../src/hash/dropbox-content-hash.js';
import { hashPrefix } from '../../../src/io/file-range.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const contentHash = (b: Buffer) => {
  const h = new DropboxContentHasher();
  h.update(b);
  return h.digest();
};

describe('bridge/upload-hash', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lfsb-uh-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('hashes the pieces fed, re-sent ones once, into SHA-256 and the content hash', async () => {
    const data = randomBytes(9 * MiB + 777);
    const h = await ThreadedObjectHash.open(sha(data), data.length, 'dropbox');
    const pieces = [
      [0, 3 * MiB],
      [2 * MiB, 5 * MiB], // a retry overlapping what was hashed
      [5 * MiB, data.length],
    ];
    for (const [a, b] of pieces) await h.feed(data.subarray(a, b), a);
    assert.ok(h.complete);
    assert.throws(() => h.digest(), /before settle/);
    await h.settle();
    assert.equal(h.digest(), sha(data));
    assert.equal(h.serverHash(), contentHash(data));
    h.verify('test');
  });

  it('a resumed prefix is read from the file on the thread, then pieces continue', async () => {
    const data = randomBytes(3 * MiB + 5);
    const path = join(dir, 'src.bin');
    await writeFile(path, data);
    const h = await ThreadedObjectHash.open(sha(data), data.length, 'dropbox');
    await hashPrefix(path, h, 2 * MiB + 1);
    assert.equal(h.pos, 2 * MiB + 1);
    await h.feed(data.subarray(2 * MiB + 1), 2 * MiB + 1);
    await h.settle();
    assert.equal(h.serverHash(), contentHash(data));
    h.verify('resumed');
  });

  it('bytes that are not the object fail verify as Corrupt', async () => {
    const data = randomBytes(2 * MiB);
    const h = await ThreadedObjectHash.open(sha(Buffer.from('other')), data.length, 'none');
    await h.feed(data, 0);
    await h.settle();
    assert.throws(
      () => h.verify('src'),
      (e: unknown) => e instanceof BridgeError && e.kind === 'Corrupt',
    );
  });

  it('a gap or more bytes than the object throws, and a slow thread makes feed() wait', async () => {
    const data = randomBytes(40 * MiB);
    const h = await ThreadedObjectHash.open(sha(data), data.length, 'dropbox');
    assert.throws(() => h.feed(data.subarray(0, 10), 5), /hash gap/);
    let waited = 0;
    for (let at = 0; at < data.length; at += 4 * MiB) {
      const r = h.feed(data.subarray(at, at + 4 * MiB), at);
      if (r) {
        waited++;
        await r;
      }
    }
    assert.ok(waited > 0, 'feed never asked to wait');
    assert.throws(
      () => h.feed(Buffer.alloc(1), data.length),
      (e: unknown) => e instanceof BridgeError,
    );
    await h.settle();
    h.verify('big');
  });

  it('close() frees an unfinished hash without throwing', async () => {
    const h = await ThreadedObjectHash.open('0'.repeat(64), 10 * MiB, 'dropbox');
    await h.feed(randomBytes(MiB), 0);
    await h.close();
  });
});
