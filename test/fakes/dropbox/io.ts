/** Streaming request bodies to files and files to responses, with the byte-level faults and the throttle. */
import type { FileHandle } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

const WRITE_BATCH = 1024 * 1024;
const WRITES_IN_FLIGHT = 4;
const READ_CHUNK = 256 * 1024;

export interface ReceiveOptions {
  /** Where the bytes go (written from `position` on); without it they are only counted and hashed. */
  fh?: FileHandle;
  position?: number;
  /** Bytes beyond this are read and counted but not written or hashed (`overLimit`). */
  limit: number;
  /** Sees every written chunk, in order (hashing). */
  onData?: (chunk: Buffer) => void;
  /** Counts every received chunk, including those of a call that then fails. */
  count: (n: number) => void;
  /** Destroy the socket once this many bytes arrived (fault); the call then fails. */
  resetAfter?: number;
  /** Flip the byte at this index of the body as it arrives (fault): stored and hashed as if the client sent it. */
  corruptAt?: number;
  /** Read the body no faster than this (bytes/s): a per-connection cap, as links to far-away servers have. */
  bytesPerSec?: number;
}

export interface Received {
  bytes: number;
  /** The whole body arrived and the connection is still usable. */
  complete: boolean;
  overLimit: boolean;
}

/**
 * Reads the request body to the end, writing it in ~1 MiB batches while the next bytes arrive (a few writes in
 * flight, so the socket keeps flowing); never holds the whole body. Every write has landed when this returns.
 */
export async function receiveBody(req: IncomingMessage, o: ReceiveOptions): Promise<Received> {
  let bytes = 0;
  let overLimit = false;
  let pos = o.position ?? 0;
  const batch: Buffer[] = [];
  let batchLen = 0;
  const writes: Promise<unknown>[] = [];
  let writeError: unknown;
  const flush = () => {
    if (batchLen === 0) return;
    const bufs = batch.splice(0);
    const at = pos;
    pos += batchLen;
    batchLen = 0;
    if (o.fh) writes.push(o.fh.writev(bufs, at).catch((e: unknown) => (writeError ??= e)));
  };
  const done = (complete: boolean): Received => {
    if (!complete) req.socket.destroy();
    return { bytes, complete, overLimit };
  };
  const pump = async (): Promise<Received> => {
    if (o.resetAfter === 0) return done(false);
    const t0 = performance.now();
    try {
      for await (const c of req as AsyncIterable<Buffer>) {
        if (o.bytesPerSec) {
          const due = t0 + ((bytes + c.length) / o.bytesPerSec) * 1000;
          const wait = due - performance.now();
          if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        }
        o.count(c.length);
        bytes += c.length;
        const flip = o.corruptAt === undefined ? -1 : o.corruptAt - (bytes - c.length);
        if (flip >= 0 && flip < c.length) c[flip] ^= 0xff;
        if (o.resetAfter !== undefined && bytes >= o.resetAfter) return done(false);
        if (bytes > o.limit) {
          overLimit = true;
          continue;
        }
        o.onData?.(c);
        batch.push(c);
        batchLen += c.length;
        if (batchLen >= WRITE_BATCH) {
          flush();
          while (writes.length > WRITES_IN_FLIGHT) await writes.shift();
        }
      }
      flush();
    } catch {
      return done(false); // the client went away
    }
    // A reset fault whose byte count exceeds the body: drop the connection before doing anything.
    if (o.resetAfter !== undefined) return done(false);
    return done(!req.socket.destroyed);
  };
  let result: Received;
  try {
    result = await pump();
  } finally {
    await Promise.all(writes); // nothing may land after the caller truncates a refused call away
  }
  if (writeError) throw writeError;
  return result;
}

/** Reads a small body (RPC JSON, forms) into memory; `null` when it exceeds `max`. */
export async function readSmall(req: IncomingMessage, max: number, count: (n: number) => void): Promise<Buffer | null> {
  const parts: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    count(c.length);
    n += c.length;
    if (n <= max) parts.push(c);
  }
  return n > max ? null : Buffer.concat(parts);
}

/** Closes the connection once what was written is flushed (the client sees a truncated reply). */
export function dropAfterFlush(res: ServerResponse): void {
  const s = res.socket;
  if (!s || s.destroyed) return;
  s.end(() => s.destroy());
}

export interface SendOptions {
  /** Bandwidth cap for this response, bytes per second; 0 = none. */
  bytesPerSec: number;
  /** Flip the byte at this index of the body. */
  corruptAt?: number;
  /** Close the connection after this many body bytes. */
  resetAfter?: number;
  count: (n: number) => void;
}

/** Writes bytes [start, end) of the open file `fh` as the body of `res` (headers already set) and ends it. */
export async function sendFileRange(
  res: ServerResponse,
  fh: FileHandle,
  start: number,
  end: number,
  o: SendOptions,
): Promise<void> {
  if (o.resetAfter === 0) {
    res.flushHeaders();
    dropAfterFlush(res);
    return;
  }
  let sent = 0;
  const t0 = performance.now();
  const chunkMax =
    o.bytesPerSec > 0 ? Math.max(1024, Math.min(READ_CHUNK, Math.floor(o.bytesPerSec / 20))) : READ_CHUNK;
  for (let pos = start; pos < end; ) {
    if (res.destroyed) return;
    const want = Math.min(chunkMax, end - pos);
    const buf = Buffer.allocUnsafe(want);
    const { bytesRead } = await fh.read(buf, 0, want, pos);
    if (bytesRead === 0) {
      dropAfterFlush(res); // file shorter than its metadata: the client sees a short body
      return;
    }
    let chunk = bytesRead < want ? buf.subarray(0, bytesRead) : buf;
    if (o.corruptAt !== undefined && o.corruptAt >= sent && o.corruptAt < sent + chunk.length) {
      chunk[o.corruptAt - sent] ^= 0xff;
    }
    if (o.resetAfter !== undefined && sent + chunk.length >= o.resetAfter) {
      chunk = chunk.subarray(0, o.resetAfter - sent);
      o.count(chunk.length);
      res.write(chunk);
      dropAfterFlush(res);
      return;
    }
    o.count(chunk.length);
    sent += chunk.length;
    pos += chunk.length;
    if (!res.write(chunk)) await drained(res);
    if (o.bytesPerSec > 0) {
      const due = t0 + (sent / o.bytesPerSec) * 1000;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
    }
  }
  res.end();
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * `Range: bytes=a-b | a- | -n` against `size` (RFC 9110 §14.1.2): the inclusive range, 'unsatisfiable' (416), or
 * undefined to serve the whole body (no header, a malformed one, or several ranges).
 */
export function parseRange(
  h: string | undefined,
  size: number,
): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (!h) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(h);
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const last = m[2] === '' ? Number.POSITIVE_INFINITY : Number(m[2]);
  if (last < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end: Math.min(last, size - 1) };
}
