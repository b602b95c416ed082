/** Hashers for the object (SHA-256 = the oid) and for each provider's server-side hash kind. */
import { createHash } from 'node:crypto';
import { DropboxContentHasher } from './dropbox-content-hash.js';

/** The kind of content hash a provider reports for stored objects. */
export type ServerHashKind = 'sha256' | 'dropbox' | 'quickxor' | 'none';

export interface Hasher {
  update(b: Uint8Array): unknown;
  digest(): string;
}

export const sha256Hasher = (): Hasher => {
  const h = createHash('sha256');
  return { update: (b) => h.update(b), digest: () => h.digest('hex') };
};

/** A fresh hasher of the given kind, or null for 'none' (and for 'sha256', which the oid already covers). */
export function serverHasher(kind: ServerHashKind): Hasher | null {
  switch (kind) {
    case 'none':
    case 'sha256':
      return null;
    case 'dropbox':
      return new DropboxContentHasher();
    default:
      throw new Error(`no hasher for ${kind} yet`);
  }
}

/**
 * Whether two hashes of one kind are the same: hex kinds (SHA-256, Dropbox's content_hash) in either case; base64
 * kinds (OneDrive's QuickXorHash) exactly, since there case is part of the value.
 */
export function hashesEqual(kind: ServerHashKind, a: string, b: string): boolean {
  return kind === 'quickxor' ? a === b : a.toLowerCase() === b.toLowerCase();
}

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
