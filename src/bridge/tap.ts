/**
 * The one pass every byte takes between the disk and a provider, in either direction: SHA-256 (and the
 * provider's hash) in object order, progress, the bandwidth limit, and — on uploads — verification before
 * the object's last byte leaves, so a corrupt source can never be committed.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { corrupt } from '../errors.js';
import { type Hasher, sha256Hasher } from '../hash/index.js';
import type { RateLimiter } from './ratelimit.js';

/**
 * What the tap and the upload need of an object's hash. `feed` may return a promise (the hash runs elsewhere and
 * is behind: wait before feeding more); `settle`, when there, must resolve before digest/serverHash/verify.
 */
export interface StreamHash {
  readonly oid: string;
  readonly size: number;
  /** Bytes [0, pos) have been fed. */
  readonly pos: number;
  readonly complete: boolean;
  feed(buf: Uint8Array, at: number): void | Promise<void>;
  /** Feeds [pos, upTo) of the file at `path` (a resumed prefix): hashPrefix uses it when there. */
  feedFile?(path: string, upTo: number): Promise<void>;
  settle?(): Promise<void>;
  digest(): string;
  serverHash(): string | undefined;
  verify(what: string): void;
  /** Frees what the hash holds elsewhere (an upload that ends early). */
  close?(): Promise<void>;
}

/**
 * The part of `buf` (object bytes from offset `at`) that `hash` has not seen yet, or null when it saw all of it:
 * each byte is hashed once, whatever order of (re)sends it passes by in. A gap or bytes past the end throw.
 */
export function unhashed(hash: StreamHash, buf: Uint8Array, at: number): Uint8Array | null {
  if (at > hash.pos) throw new Error(`hash gap: have ${hash.pos}, got bytes at ${at}`);
  if (at + buf.length > hash.size) throw corrupt(`more than the ${hash.size} bytes of ${hash.oid}`);
  const skip = hash.pos - at;
  if (skip >= buf.length) return null;
  return skip > 0 ? buf.subarray(skip) : buf;
}

/** Hashes an object's bytes exactly once each, in order, whatever order of (re)sends they pass by in. */
export class ObjectHash implements StreamHash {
  private readonly sha = sha256Hasher();
  /** Bytes [0, pos) have been hashed. */
  pos = 0;
  private sha256?: string;
  private serverDigest?: string;

  constructor(
    readonly oid: string,
    readonly size: number,
    private readonly server: Hasher | null = null,
  ) {}

  /** Feeds `buf`, which holds object bytes starting at `at`; bytes before `pos` were hashed already. */
  feed(buf: Uint8Array, at: number): void {
    const part = unhashed(this, buf, at);
    if (!part) return;
    this.sha.update(part);
    this.server?.update(part);
    this.pos += part.length;
  }

  get complete(): boolean {
    return this.pos === this.size;
  }

  /** SHA-256 of the whole object; only once complete. */
  digest(): string {
    if (!this.complete) throw new Error(`digest before the end: ${this.pos}/${this.size}`);
    this.sha256 ??= this.sha.digest();
    return this.sha256;
  }

  serverHash(): string | undefined {
    if (!this.server) return undefined;
    this.serverDigest ??= this.server.digest();
    return this.serverDigest;
  }

  /** Throws Corrupt when the complete object's SHA-256 is not its oid. */
  verify(what: string): void {
    const got = this.digest();
    if (got !== this.oid) throw corrupt(`${what}: SHA-256 is ${got}, expected ${this.oid}`);
  }
}

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
