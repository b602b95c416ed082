/**
 * The one pass every byte takes between the disk and a provider, in either direction: SHA-256 (and the
 * provider's hash) in object order, progress, the bandwidth limit, and — on uploads — verification before
 * the object's last byte leaves, so a corrupt source can never be committed.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { StreamHash } from '../hash/object-hash.js';
import type { RateLimiter } from './ratelimit.js';

export interface TapOptions {
  /** Absent: the bytes are hashed elsewhere (upload pieces sent out of order: upload-pieces.ts). */
  hash?: StreamHash;
  /** Object offset of the first byte that will pass. */
  start: number;
  /** Called with the object position after each piece passes. */
  onPosition?: (pos: number) => void;
  rate?: RateLimiter;
  /** Upload: check the SHA-256 before the object's last byte is passed on. */
  verifyBeforeEnd?: string;
}

export function tap(o: TapOptions): Transform {
  let at = o.start;
  const check = async (): Promise<void> => {
    if (!o.verifyBeforeEnd || !o.hash?.complete) return;
    await o.hash.settle?.();
    o.hash.verify(o.verifyBeforeEnd);
  };
  /** One piece: hashed (too many bytes or a gap fail this stream, never the process), checked, paced. */
  const step = async (chunk: Buffer): Promise<void> => {
    const behind = o.hash?.feed(chunk, at);
    if (behind) await behind;
    at += chunk.length;
    await check();
    const wait = o.rate?.take(chunk.length) ?? 0;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    o.onPosition?.(at);
  };
  return new Transform({
    readableHighWaterMark: 1 << 20,
    writableHighWaterMark: 1 << 20,
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      step(chunk).then(() => cb(null, chunk), cb);
    },
    flush(cb) {
      // A zero-byte object has no last piece to check on.
      (o.hash?.size === 0 ? check() : Promise.resolve()).then(() => cb(), cb);
    },
  });
}
