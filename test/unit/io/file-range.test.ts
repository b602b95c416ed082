import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ObjectHash } from '../../../src/hash/object-hash.js';
import { hashPrefix, readRange } from '../../../src/io/file-range.js';

const collect = async (r: AsyncIterable<unknown>) => {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
};

describe('io/file-range', () => {
  let dir: string;
  let path: string;
  const data = randomBytes(3 * 1024 * 1024 + 17);
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lfsb-source-'));
    path = join(dir, 'obj');
    await writeFile(path, data);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('readRange reads [start, end)', async () => {
    assert.deepEqual(await collect(readRange(path, 0, data.length)), data);
    assert.deepEqual(await collect(readRange(path, 5, 6)), data.subarray(5, 6));
    assert.deepEqual(await collect(readRange(path, 1_000_000, 2_500_000)), data.subarray(1_000_000, 2_500_000));
  });

  it('readRange of an empty range is an empty stream', async () => {
    assert.equal((await collect(readRange(path, 0, 0))).length, 0);
    assert.equal((await collect(readRange(path, 10, 10))).length, 0);
  });

  it('hashPrefix feeds [hash.pos, upTo) and continues from where the hash is', async () => {
    const h = new ObjectHash(createHash('sha256').update(data).digest('hex'), data.length);
    await hashPrefix(path, h, 1000);
    assert.equal(h.pos, 1000);
    await hashPrefix(path, h, 500); // behind: nothing to do
    assert.equal(h.pos, 1000);
    await hashPrefix(path, h, data.length);
    h.verify('prefix');
  });

  it('hashPrefix fails when the file is shorter than asked', async () => {
    const short = join(dir, 'short');
    await writeFile(short, data.subarray(0, 100));
    const h = new ObjectHash('0'.repeat(64), 1000);
    await assert.rejects(hashPrefix(short, h, 500), /ended at 100, expected 500/);
  });
});
