import { createHash, type Hash } from 'node:crypto';

/** Dropbox hashes content in blocks of 4 MiB (https://www.dropbox.com/developers/reference/content-hash). */
export const DROPBOX_HASH_BLOCK = 4 * 1024 * 1024;

/**
 * Streaming Dropbox `content_hash`: SHA-256 of each 4,194,304-byte block (the last one may be short), then SHA-256
 * of the concatenated raw block digests, as lowercase hex. Empty input gives SHA-256 of nothing (`e3b0c442…`).
 * `update` accepts any split of the input; whole buffers or slices go straight to OpenSSL, never byte by byte.
 */
export class DropboxContentHasher {
  private overall: Hash;
  private block: Hash;
  private inBlock: number;
  private done = false;

  constructor(state?: { overall: Hash; block: Hash; inBlock: number }) {
    this.overall = state?.overall ?? createHash('sha256');
    this.block = state?.block ?? createHash('sha256');
    this.inBlock = state?.inBlock ?? 0;
  }

  /** Feeds the next bytes of the content. */
  update(b: Uint8Array): this {
    if (this.done) throw new Error('DropboxContentHasher: update() after digest()');
    let off = 0;
    while (off < b.length) {
      const n = Math.min(DROPBOX_HASH_BLOCK - this.inBlock, b.length - off);
      this.block.update(off === 0 && n === b.length ? b : b.subarray(off, off + n));
      this.inBlock += n;
      off += n;
      if (this.inBlock === DROPBOX_HASH_BLOCK) {
        this.overall.update(this.block.digest());
        this.block = createHash('sha256');
        this.inBlock = 0;
      }
    }
    return this;
  }

  /** An independent hasher with the same state (so a caller can try bytes and drop them if they are refused). */
  copy(): DropboxContentHasher {
    if (this.done) throw new Error('DropboxContentHasher: copy() after digest()');
    return new DropboxContentHasher({ overall: this.overall.copy(), block: this.block.copy(), inBlock: this.inBlock });
  }

  /** The content hash, lowercase hex; the hasher cannot be used afterwards. */
  digest(): string {
    if (this.done) throw new Error('DropboxContentHasher: digest() called twice');
    this.done = true;
    if (this.inBlock > 0) this.overall.update(this.block.digest());
    return this.overall.digest('hex');
  }
}

/** Content hash of a whole buffer. */
export function dropboxContentHash(b: Uint8Array): string {
  return new DropboxContentHasher().update(b).digest();
}
