/**
 * The disk thread (see disk-thread.ts). For a download (partfile.ts): positional writes into a .part and its
 * SHA-256 in object order. For an upload (upload-hash.ts): SHA-256 and the provider's hash of the bytes sent.
 * This thread hashes while the libuv pool writes the previous buffer; writes go one at a time (several writes in
 * flight on one file cost ~3x the system time: they contend for the inode), and the bytes written are flushed to
 * the disk every FLUSH_EVERY as the download goes, so the fsync at the end has only the tail left to wait for.
 */
import { type FileHandle, open } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import { BridgeError } from '../errors.js';
import { writeAllAt } from '../fsutil.js';
import { serverHasher } from '../hash/index.js';
import { ObjectHash } from '../hash/object-hash.js';
import type { Reply, Request, WireError } from './disk-thread.js';
import { hashPrefix } from './file-range.js';

const FLUSH_EVERY = 64 << 20;

interface OpenFile {
  path: string;
  fh: FileHandle;
  hash: ObjectHash;
  /** Writes, one after another. */
  writing: Promise<unknown>;
  /** Hash steps in message order (a read-back must come before the frontier bytes after it). */
  hashing: Promise<unknown>;
  unflushed: number;
  flushing: Promise<unknown>;
}

const files = new Map<number, OpenFile>();

/** The hash of an upload: fed the very buffers the network thread sends (copies of them), in order. */
interface UploadHash {
  hash: ObjectHash;
  steps: Promise<unknown>;
}
const hashes = new Map<number, UploadHash>();

function uploadHash(id: number): UploadHash {
  const h = hashes.get(id);
  if (!h) throw new Error(`upload hash ${id} is not open`);
  return h;
}

const port = parentPort!;

function file(id: number): OpenFile {
  const f = files.get(id);
  if (!f) throw new Error(`part file ${id} is not open`);
  return f;
}

/** Chains `op` after `prev`; `prev` failing fails the chain too (the file is broken from then on). */
const after = <T>(prev: Promise<unknown>, op: () => Promise<T> | T): Promise<T> => prev.then(op);

async function handle(m: Request): Promise<Reply> {
  switch (m.t) {
    case 'hopen':
      hashes.set(m.id, { hash: new ObjectHash(m.oid, m.size, serverHasher(m.kind)), steps: Promise.resolve() });
      return { seq: m.seq, pos: 0 };
    case 'hfeed': {
      const h = uploadHash(m.id);
      h.steps = after(h.steps, () => h.hash.feed(Buffer.from(m.ab, 0, m.n), m.at));
      await h.steps;
      return { seq: m.seq, pos: h.hash.pos, ab: m.ab };
    }
    case 'hfile': {
      const h = uploadHash(m.id);
      h.steps = after(h.steps, () => hashPrefix(m.path, h.hash, m.upTo));
      await h.steps;
      return { seq: m.seq, pos: h.hash.pos };
    }
    case 'hdone': {
      const h = uploadHash(m.id);
      try {
        await h.steps;
      } finally {
        hashes.delete(m.id);
      }
      const digest = h.hash.complete ? h.hash.digest() : undefined;
      return { seq: m.seq, pos: h.hash.pos, digest, server: digest ? h.hash.serverHash() : undefined };
    }
    case 'open': {
      const fh = await open(m.path, 'r+');
      const none = Promise.resolve();
      files.set(m.id, {
        path: m.path,
        fh,
        hash: new ObjectHash(m.oid, m.size),
        writing: none,
        hashing: none,
        unflushed: 0,
        flushing: none,
      });
      return { seq: m.seq, pos: 0 };
    }
    case 'write': {
      const f = file(m.id);
      const buf = Buffer.from(m.ab, 0, m.n);
      const written = after(f.writing, () => writeAllAt(f.fh, buf, m.pos));
      // At the frontier: hashed from memory while the pool writes; elsewhere the bytes are read back later.
      const hashed = after(f.hashing, () => {
        if (m.pos <= f.hash.pos && m.pos + m.n > f.hash.pos) f.hash.feed(buf, m.pos);
      });
      f.writing = written;
      f.hashing = hashed;
      await Promise.all([written, hashed]);
      f.unflushed += m.n;
      if (f.unflushed >= FLUSH_EVERY) {
        f.unflushed = 0;
        f.flushing = after(f.flushing, () => f.fh.datasync()); // beside the next writes, not in their way
        f.flushing.catch(() => {}); // reported by finish
      }
      return { seq: m.seq, pos: f.hash.pos, ab: m.ab };
    }
    case 'hash': {
      const f = file(m.id);
      f.hashing = after(f.hashing, () => hashPrefix(f.path, f.hash, m.upTo)); // bytes that landed behind the frontier
      await f.hashing;
      return { seq: m.seq, pos: f.hash.pos };
    }
    case 'finish': {
      const f = file(m.id);
      await Promise.all([f.writing, f.flushing]);
      f.hashing = after(f.hashing, () => hashPrefix(f.path, f.hash, f.hash.size));
      await f.hashing;
      await f.fh.sync();
      return { seq: m.seq, pos: f.hash.pos, digest: f.hash.digest() };
    }
    case 'close': {
      const f = files.get(m.id);
      files.delete(m.id);
      if (!f) return { seq: m.seq, pos: 0 };
      await Promise.allSettled([f.writing, f.hashing, f.flushing]);
      await f.fh.close();
      return { seq: m.seq, pos: f.hash.pos };
    }
  }
}

function wireError(e: unknown): WireError {
  const err = e as NodeJS.ErrnoException;
  return e instanceof BridgeError ? { message: err.message, kind: e.kind } : { message: err.message, code: err.code };
}

port.on('message', (m: Request) => {
  handle(m).then(
    (reply) => port.postMessage(reply, reply.ab ? [reply.ab] : []),
    // A failed write still hands its buffer back, so the sender's pool stays whole.
    (e) => {
      const ab = m.t === 'write' || m.t === 'hfeed' ? m.ab : undefined;
      port.postMessage({ seq: m.seq, pos: -1, error: wireError(e), ab } satisfies Reply, ab ? [ab] : []);
    },
  );
});
