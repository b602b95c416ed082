/**
 * The hash of a large upload, run on the disk thread: SHA-256 and the provider's hash of the very bytes sent.
 * Each piece the tap sees is copied into a transferable buffer (≈ 0.05 s per GiB) and hashed there while this
 * thread sends the original, so the sending thread no longer pays one or two hash passes. The ObjectHash contract,
 * except that digest()/serverHash()/verify() answer only after settle() — the tap settles before the last piece.
 */
import { corrupt } from '../errors.js';
import type { ServerHashKind } from '../hash/index.js';
import { type StreamHash, unhashed } from '../hash/object-hash.js';
import { type DiskThread, diskThread, type Reply, toError } from '../io/disk-thread.js';
import { PIECE } from './partfile.js';

/** Pieces copied and not yet hashed: the memory bound, and when feed() starts asking the tap to wait. */
const MAX_IN_FLIGHT = 6;

export class ThreadedObjectHash implements StreamHash {
  pos = 0;
  private inFlight = 0;
  private readonly free: ArrayBuffer[] = [];
  private readonly waiting: (() => void)[] = [];
  private failure?: Error;
  private settled?: Promise<{ digest?: string; server?: string }>;
  private result?: { digest?: string; server?: string };

  private constructor(
    private readonly thread: DiskThread,
    private readonly id: number,
    readonly oid: string,
    readonly size: number,
  ) {}

  static async open(oid: string, size: number, kind: ServerHashKind): Promise<ThreadedObjectHash> {
    const thread = diskThread();
    const id = thread.nextId();
    const r = await thread.call({ t: 'hopen', id, oid, size, kind });
    if (r.error) throw toError(r.error);
    return new ThreadedObjectHash(thread, id, oid, size);
  }

  get complete(): boolean {
    return this.pos === this.size;
  }

  feed(buf: Uint8Array, at: number): void | Promise<void> {
    if (this.failure) throw this.failure;
    const part = unhashed(this, buf, at);
    if (!part) return; // a re-send of bytes already hashed
    if (this.settled) throw new Error('feed after settle');
    for (let off = 0; off < part.length; off += PIECE) {
      const n = Math.min(PIECE, part.length - off);
      const ab = this.free.pop() ?? new ArrayBuffer(PIECE);
      new Uint8Array(ab).set(part.subarray(off, off + n));
      this.send(ab, n, this.pos);
      this.pos += n;
    }
    if (this.inFlight >= MAX_IN_FLIGHT) return this.room();
  }

  private send(ab: ArrayBuffer, n: number, at: number): void {
    this.inFlight++;
    const done = (r: Reply | null, e?: unknown) => {
      this.inFlight--;
      if (r?.ab) this.free.push(r.ab);
      const err = r?.error ? toError(r.error) : e ? (e as Error) : undefined;
      if (err) this.failure ??= err;
      for (const w of this.waiting.splice(0)) w();
    };
    this.thread.call({ t: 'hfeed', id: this.id, ab, n, at }, [ab]).then(
      (r) => done(r),
      (e) => done(null, e),
    );
  }

  /** Resolves once fewer than MAX_IN_FLIGHT pieces wait to be hashed (or the hash failed: feed throws then). */
  private async room(): Promise<void> {
    while (this.inFlight >= MAX_IN_FLIGHT && !this.failure) await new Promise<void>((r) => this.waiting.push(r));
    if (this.failure) throw this.failure;
  }

  async feedFile(path: string, upTo: number): Promise<void> {
    if (upTo <= this.pos) return;
    const r = await this.thread.call({ t: 'hfile', id: this.id, path, upTo });
    if (r.error) throw toError(r.error);
    this.pos = r.pos;
  }

  /** Waits for every piece to be hashed and fetches the digests; the thread's state for this hash is freed. */
  settle(): Promise<void> {
    this.settled ??= (async () => {
      const r = await this.thread.call({ t: 'hdone', id: this.id });
      if (r.error) throw toError(r.error);
      if (this.failure) throw this.failure;
      return { digest: r.digest, server: r.server };
    })();
    return this.settled.then((res) => {
      this.result = res;
    });
  }

  digest(): string {
    if (!this.complete) throw new Error(`digest before the end: ${this.pos}/${this.size}`);
    const d = this.result?.digest;
    if (!d) throw new Error('digest before settle()');
    return d;
  }

  serverHash(): string | undefined {
    if (!this.result) throw new Error('serverHash before settle()');
    return this.result.server;
  }

  verify(what: string): void {
    const got = this.digest();
    if (got !== this.oid) throw corrupt(`${what}: SHA-256 is ${got}, expected ${this.oid}`);
  }

  async close(): Promise<void> {
    if (!this.settled) await this.settle().catch(() => {});
  }
}
