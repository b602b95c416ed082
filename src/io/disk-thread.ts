/**
 * The disk thread: one worker per process, started on first use, that does the byte-heavy file work beside the
 * network thread — writing and hashing download partials (partfile.ts), and hashing the bytes an upload sends
 * (upload-hash.ts). Its entry is disk-worker.ts. On 2 cores this took a 1 GiB download from
 * ~3.5 s to ~1.9 s: the network thread only receives while this thread writes and hashes.
 */
import { Worker } from 'node:worker_threads';
import { BridgeError, type ErrorKind } from '../errors.js';
import type { ServerHashKind } from '../hash/index.js';

/** Objects from this size on use the disk thread; below it, starting the thread costs more than it saves. */
export const THREAD_MIN = 8 << 20;

export type Request =
  | { t: 'hopen'; seq: number; id: number; oid: string; size: number; kind: ServerHashKind }
  | { t: 'hfeed'; seq: number; id: number; ab: ArrayBuffer; n: number; at: number }
  | { t: 'hfile'; seq: number; id: number; path: string; upTo: number }
  | { t: 'hdone'; seq: number; id: number }
  | { t: 'open'; seq: number; id: number; path: string; oid: string; size: number }
  | { t: 'write'; seq: number; id: number; ab: ArrayBuffer; n: number; pos: number }
  | { t: 'hash'; seq: number; id: number; upTo: number }
  | { t: 'finish'; seq: number; id: number }
  | { t: 'close'; seq: number; id: number };

export interface WireError {
  message: string;
  code?: string;
  kind?: ErrorKind;
}

export interface Reply {
  seq: number;
  /** Bytes hashed so far. */
  pos: number;
  /** A written buffer, handed back for reuse. */
  ab?: ArrayBuffer;
  digest?: string;
  /** The provider's hash of the object (hdone), when it has one. */
  server?: string;
  error?: WireError;
}

export function toError(e: WireError): Error {
  if (e.kind) return new BridgeError(e.kind, false, e.message);
  return Object.assign(new Error(e.message), { code: e.code });
}

/** The worker, shared by the downloads of this process and started on first use. */
export class DiskThread {
  private readonly worker: Worker;
  private seq = 0;
  private ids = 0;
  private readonly pending = new Map<number, { resolve(r: Reply): void; reject(e: Error): void }>();
  dead = false;

  constructor() {
    this.worker = spawn();
    this.worker.on('message', (r: Reply) => {
      const p = this.pending.get(r.seq);
      this.pending.delete(r.seq);
      if (this.pending.size === 0) this.worker.unref();
      p?.resolve(r);
    });
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => this.fail(new Error(`the disk thread stopped (exit code ${code})`)));
    // Held only while a call is pending (a 'message' listener refs it, so this comes after): an idle thread never
    // keeps a process alive.
    this.worker.unref();
  }

  /** The heap limits the thread runs with (tests check they are the shipped ones). */
  get resourceLimits() {
    return this.worker.resourceLimits;
  }

  nextId(): number {
    return ++this.ids;
  }

  call(req: DistributiveOmit<Request, 'seq'>, transfer: ArrayBuffer[] = []): Promise<Reply> {
    if (this.dead) return Promise.reject(new Error('the disk thread stopped'));
    const seq = ++this.seq;
    if (this.pending.size === 0) this.worker.ref();
    return new Promise<Reply>((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      this.worker.postMessage({ ...req, seq }, transfer);
    });
  }

  /** Ends the thread (its pending calls fail); the next use starts a new one. */
  async stop(): Promise<void> {
    await this.worker.terminate();
  }

  private fail(e: Error): void {
    this.dead = true;
    this.worker.unref();
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

let thread: DiskThread | undefined;
/** Stops the disk thread if one runs (tests: what a crash of the thread does to a download). */
export async function stopDiskThread(): Promise<void> {
  await thread?.stop();
}

export function diskThread(): DiskThread {
  if (!thread || thread.dead) thread = new DiskThread();
  return thread;
}

/** The thread holds a few small objects per message: a small heap keeps the agent's peak RSS down. */
export const LIMITS = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 };

function spawn(): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    // Run from source under tsx (the unit tests): workers do not inherit its loader, so register it first. The
    // same heap limits as shipped: the tests run the thread as users do.
    const entry = new URL('./disk-worker.ts', here).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
    return new Worker(boot, { eval: true, resourceLimits: LIMITS });
  }
  return new Worker(new URL('./disk-worker.js', here), { resourceLimits: LIMITS });
}
