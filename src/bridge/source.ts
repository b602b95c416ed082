/** Reading ranges of local files into the object hash (upload sources, download partials). */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { ObjectHash } from './tap.js';

export const READ_HWM = 1 << 20; // SHA-256 runs ~2x faster on 1 MiB reads than on 64 KiB ones (PROVIDERS.md §5)

export function readRange(path: string, start: number, endExclusive: number): Readable {
  if (endExclusive <= start) return Readable.from([]); // fs streams cannot express an empty range
  return createReadStream(path, { start, end: endExclusive - 1, highWaterMark: READ_HWM });
}

/** Feeds [hash.pos, upTo) of `path` into the hash: rebuilding a prefix on resume costs a local read, no network. */
export async function hashPrefix(path: string, hash: ObjectHash, upTo: number): Promise<void> {
  if (upTo <= hash.pos) return;
  let at = hash.pos;
  for await (const chunk of readRange(path, hash.pos, upTo)) {
    hash.feed(chunk as Buffer, at);
    at += (chunk as Buffer).length;
  }
  if (hash.pos !== upTo) throw new Error(`${path} ended at ${hash.pos}, expected ${upTo} bytes`);
}
