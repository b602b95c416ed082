/** An object's hash in object order: SHA-256 (which must equal the oid) and the provider's hash beside it. */
import { corrupt } from '../errors.js';
import { type Hasher, sha256Hasher } from './index.js';

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
