/** The part file of a download: positional writes, SHA-256 in object order, back-pressure, disk errors. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openPartFile, type PartFile, PIECE } from '../../../src/bridge/partfile.js';
import { stopDiskThread } from '../../../src/io/disk-thread.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function put(part: PartFile, data: Buffer, from: number, to: number): Promise<void> {
  const writes: Promise<void>[] = [];
  for (let at = from; at < to; at += PIECE) {
    const buf = await part.buffer();
    const n = Math.min(PIECE, to - at);
    data.copy(buf, 0, at, at + n);
    writes.push(part.write(buf, n, at));
  }
  await Promise.all(writes);
}

for (const thread of [false, true])
  describe(`bridge/partfile (${thread ? 'disk thread' : 'this thread'})`, () => {
    let dir: string;
    let path: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'lfsb-part-'));
      path = join(dir, 'x.part');
      await writeFile(path, '');
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    it('hashes in object order whatever order the pieces land in', async () => {
      const data = randomBytes(5 * PIECE + 12345);
      const part = await openPartFile(path, sha(data), data.length, thread);
      try {
        const mid = 3 * PIECE;
        await put(part, data, mid, data.length); // behind the frontier: read back later
        await put(part, data, 0, mid); // at the frontier: hashed from memory
        assert.equal(await part.finish(), sha(data));
      } finally {
        await part.close();
      }
      assert.ok((await readFile(path)).equals(data));
    });

    it('continues the hash of a prefix already in the file (a resumed partial)', async () => {
      const data = randomBytes(2 * PIECE + 7);
      await writeFile(path, data.subarray(0, PIECE + 3));
      const part = await openPartFile(path, sha(data), data.length, thread);
      try {
        await part.hashTo(PIECE + 3);
        await put(part, data, PIECE + 3, data.length);
        assert.equal(await part.finish(), sha(data));
      } finally {
        await part.close();
      }
    });

    it('a small object gets buffers of its own size, not a whole piece each', async () => {
      const data = randomBytes(1000);
      const part = await openPartFile(path, sha(data), data.length, thread);
      try {
        const buf = await part.buffer();
        assert.equal(buf.length, 1000);
        data.copy(buf);
        await part.write(buf, 1000, 0);
        assert.equal(await part.finish(), sha(data));
      } finally {
        await part.close();
      }
    });

    it('a zero-byte object', async () => {
      const empty = Buffer.alloc(0);
      const part = await openPartFile(path, sha(empty), 0, thread);
      assert.equal(await part.finish(), sha(empty));
      await part.close();
    });

    it('a short file fails the finish instead of hashing a guess', async () => {
      const data = randomBytes(PIECE);
      const part = await openPartFile(path, sha(data), data.length, thread);
      try {
        await put(part, data, 0, PIECE / 2);
        await assert.rejects(part.finish(), /ended at/);
      } finally {
        await part.close();
      }
    });

    it('hands out a bounded number of buffers: the next waits for one to come back', async () => {
      const part = await openPartFile(path, sha(Buffer.alloc(0)), 64 * PIECE, thread);
      try {
        const held: Buffer[] = [];
        let waiting: Promise<Buffer> | undefined;
        for (let i = 0; i < 64 && !waiting; i++) {
          const b = part.buffer();
          const got = await Promise.race([b, new Promise<null>((r) => setTimeout(() => r(null), 30))]);
          if (got) held.push(got);
          else waiting = b;
        }
        assert.ok(waiting, 'buffer() never waited');
        assert.ok(held.length >= 2 && held.length <= 16, `held ${held.length}`);
        part.release(held.pop()!);
        const again = await waiting;
        assert.equal(again.length, PIECE);
      } finally {
        await part.close();
      }
    });

    it('a disk error fails the write with its code and keeps the buffers usable', async () => {
      const part = await openPartFile('/dev/full', sha(Buffer.alloc(0)), 4 * PIECE, thread);
      try {
        const buf = await part.buffer();
        await assert.rejects(part.write(buf, PIECE, 0), (e: NodeJS.ErrnoException) => e.code === 'ENOSPC');
        const next = await part.buffer();
        assert.equal(next.length, PIECE);
        part.release(next);
      } finally {
        await part.close();
      }
    });

    it('a missing file fails to open with ENOENT', async () => {
      await assert.rejects(
        openPartFile(join(dir, 'missing.part'), sha(Buffer.alloc(0)), 0, thread),
        (e: NodeJS.ErrnoException) => e.code === 'ENOENT',
      );
    });

    if (thread)
      it('a disk thread that dies fails the download it served; the next file gets a new thread', async () => {
        const data = randomBytes(2 * PIECE);
        const part = await openPartFile(path, sha(data), data.length, true);
        await put(part, data, 0, PIECE);
        await stopDiskThread();
        const buf = await part.buffer();
        data.copy(buf, 0, PIECE);
        await assert.rejects(part.write(buf, PIECE, PIECE), /disk thread stopped/);
        await part.close(); // nothing left to close: no throw
        await writeFile(path, '');
        const again = await openPartFile(path, sha(data), data.length, true);
        try {
          await put(again, data, 0, data.length);
          assert.equal(await again.finish(), sha(data));
        } finally {
          await again.close();
        }
      });
  });
