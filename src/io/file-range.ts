/** Reading ranges of local files into the object hash (upload sources, download partials). */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { StreamHash } from '../hash/object-hash.js';

/** Objects this small are read in one piece and verified before a byte moves on: no stream machinery per object. */
export const TINY = 1 << 20;

/** SHA-256 runs ~2x faster on 1 MiB reads than on 64 KiB ones (docs/architecture.md "One upload"). */
export const READ_HWM = 1 << 20;

/** `readBytes`: the size of each read (smaller pieces let the ramp see the send rate finely: ramp.ts). */
export function readRange(path: string, start: number, endExclusive: number, readBytes = READ_HWM): Readable {
  if (endExclusive <= start) return Readable.from([]); // fs streams cannot express an empty range
  return createReadStream(path, { start, end: endExclusive - 1, highWaterMark: readBytes });
}

const HASH_BUF = 2 << 20;

/**
 * Feeds [hash.pos, upTo) of `path` into the hash (a resumed prefix, a source verified beside a kernel copy).
 * Two buffers alternate, so the next read runs in the thread pool while this one is hashed; no allocation per read.
 */
export async function hashPrefix(
  path: string,
  hash: StreamHash,
  upTo: number,
  onPosition?: (pos: number) => void,
): Promise<void> {
  if (upTo <= hash.pos) return;
  if (hash.feedFile) {
    await hash.feedFile(path, upTo); // read where that hash runs
    onPosition?.(hash.pos);
    return;
  }
  const fh = await open(path, 'r');
  try {
    const bufs = [Buffer.allocUnsafe(HASH_BUF), Buffer.allocUnsafe(HASH_BUF)];
    let at = hash.pos;
    const read = (i: number, pos: number) => fh.read(bufs[i], 0, Math.min(HASH_BUF, upTo - pos), pos);
    let pending = read(0, at);
    for (let i = 0; at < upTo; i ^= 1) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) break;
      const next = at + bytesRead;
      if (next < upTo) pending = read(i ^ 1, next);
      await hash.feed(bufs[i].subarray(0, bytesRead), at);
      at = next;
      onPosition?.(at);
    }
  } finally {
    await fh.close();
  }
  if (hash.pos < upTo) throw new Error(`${path} ended at ${hash.pos}, expected ${upTo} bytes`); // (others may feed past it)
}
