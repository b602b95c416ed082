import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { TransferContext } from '../../../src/bridge/context.js';
import { ProgressMeter } from '../../../src/bridge/progress.js';
import type { ProgressEvent } from '../../../src/bridge/protocol.js';
import { MemoryResumeStore } from '../../../src/bridge/resume.js';
import { chunkSizeFor, upload } from '../../../src/bridge/upload.js';
import { parseConfig } from '../../../src/config/index.js';
import { BridgeError, notFound, transient } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';
import type { Capabilities, ChunkResult, Provider, RemoteObject, UploadSession } from '../../../src/providers/types.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const read = async (r: Readable) => {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
};

const caps: Capabilities = {
  chunkAlign: 100,
  chunkMax: 10_000,
  chunkDefault: 1000,
  simpleUploadMax: 500,
  serverHash: 'none',
  sessionsSurviveRestart: true,
  sessionFromOid: false,
  parallelRanges: false,
  needsKeychain: false,
};

/** An in-memory session provider; `onChunk` may fail a chunk (and kill its session) to script faults. */
class FakeProvider implements Provider {
  readonly name = 'dropbox' as const;
  caps: Capabilities = caps;
  /** Google Drive / OneDrive style: the chunk that ends the object creates it, and the session is then gone. */
  commitOnLast = false;
  /** With commitOnLast: the hash the commit reports (the stored bytes' SHA-256 when unset). */
  reportHash?: string;
  /** The answer to the next chunk that commits is lost (the bytes are stored, the caller sees an error). */
  loseCommitAnswer = false;
  finishCalls = 0;
  removed: string[] = [];
  readonly destination = 'dest';
  readonly account = 'me';
  readonly stored = new Map<string, Buffer>();
  readonly sessions = new Map<string, { oid: string; data: Buffer; alive: boolean }>();
  chunkCalls: { id: string; offset: number; length: number }[] = [];
  onChunk?: (id: string, offset: number, call: number) => void;
  private next = 0;

  async stat(oid: string): Promise<RemoteObject | null> {
    const b = this.stored.get(oid);
    return b ? { size: b.length } : null;
  }
  async putSmall(oid: string, _size: number, body: Readable | Buffer): Promise<RemoteObject> {
    const b = Buffer.isBuffer(body) ? body : await read(body);
    this.stored.set(oid, b);
    return { size: b.length };
  }
  async startUpload(oid: string): Promise<UploadSession> {
    const id = `s${++this.next}`;
    this.sessions.set(id, { oid, data: Buffer.alloc(0), alive: true });
    return { id };
  }
  private session(s: UploadSession) {
    const x = this.sessions.get(String(s.id));
    if (!x?.alive) throw notFound(`session ${s.id} is gone`);
    return x;
  }
  async uploadChunk(
    s: UploadSession,
    offset: number,
    length: number,
    body: Readable,
    last = false,
  ): Promise<ChunkResult> {
    const x = this.session(s);
    this.chunkCalls.push({ id: String(s.id), offset, length });
    this.onChunk?.(String(s.id), offset, this.chunkCalls.length);
    const b = await read(body);
    assert.equal(b.length, length);
    assert.equal(offset, x.data.length, 'chunk not at the committed offset');
    x.data = Buffer.concat([x.data, b]);
    if (this.commitOnLast && last) {
      this.stored.set(x.oid, x.data);
      x.alive = false;
      if (this.loseCommitAnswer) {
        this.loseCommitAnswer = false;
        throw transient('connection reset after the last chunk');
      }
      return { offset: x.data.length, committed: { size: x.data.length, hash: this.reportHash ?? sha(x.data) } };
    }
    return { offset: x.data.length };
  }
  async queryUpload(s: UploadSession): Promise<number> {
    return this.session(s).data.length;
  }
  async finishUpload(s: UploadSession): Promise<RemoteObject> {
    this.finishCalls++;
    const x = this.session(s);
    this.stored.set(x.oid, x.data);
    x.alive = false;
    return { size: x.data.length };
  }
  async remove(oid: string): Promise<void> {
    this.removed.push(oid);
    this.stored.delete(oid);
  }
  async abortUpload(s: UploadSession): Promise<void> {
    this.sessions.delete(String(s.id));
  }
  async readTarget(): Promise<never> {
    throw new Error('not used');
  }
}

describe('bridge/upload', () => {
  let dir: string;
  let p: FakeProvider;
  let resume: MemoryResumeStore;
  let ctx: TransferContext;
  let events: ProgressEvent[];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lfsb-upload-'));
    p = new FakeProvider();
    resume = new MemoryResumeStore();
    events = [];
    ctx = {
      provider: p,
      config: parseConfig(
        new Map([
          ['lfs-bridge.provider', 'dropbox'],
          ['lfs-bridge.root', '/lfs'],
        ]),
      ),
      log: createLogger('test', {}, () => {}),
      resume: async () => resume,
      lfsPaths: () => Promise.reject(new Error('not used')),
      lockDir: dir,
      retry: { sleep: async () => {} },
      now: Date.now,
    };
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function object(size: number) {
    const data = randomBytes(size);
    const path = join(dir, `obj-${size}`);
    await writeFile(path, data);
    return { data, oid: sha(data), size, path };
  }
  const run = (o: { oid: string; size: number; path: string }) => {
    const meter = new ProgressMeter(o.oid, o.size, (e) => events.push(e), 1);
    return upload(ctx, { event: 'upload', oid: o.oid, size: o.size, path: o.path }, meter);
  };
  const lastProgress = () => events.at(-1)?.bytesSoFar;

  it('chunkSizeFor: configured or default, within the limit, aligned', () => {
    assert.equal(chunkSizeFor(p), 1000);
    assert.equal(chunkSizeFor(p, 1050), 1000);
    assert.equal(chunkSizeFor(p, 50), 100);
    assert.equal(chunkSizeFor(p, 1e9), 10_000);
  });

  it('a small object goes in one putSmall', async () => {
    const o = await object(400);
    await run(o);
    assert.deepEqual(p.stored.get(o.oid), o.data);
    assert.equal(p.chunkCalls.length, 0);
    assert.equal(lastProgress(), 400);
  });

  it('a session upload in aligned chunks; the resume record is written, then deleted', async () => {
    const o = await object(3500);
    const puts: number[] = [];
    const put = resume.put.bind(resume);
    resume.put = async (rec) => {
      puts.push(p.chunkCalls.length); // chunks sent before this write
      return put(rec);
    };
    await run(o);
    assert.deepEqual(p.stored.get(o.oid), o.data);
    assert.deepEqual(
      p.chunkCalls.map((c) => [c.offset, c.length]),
      [
        [0, 1000],
        [1000, 1000],
        [2000, 1000],
        [3000, 500],
      ],
    );
    assert.equal(puts[0], 0, 'the record is written before the first chunk');
    assert.deepEqual(await resume.list(), []);
    assert.equal(lastProgress(), 3500);
  });

  it('a last chunk that creates the object: its answer is checked, and no finish is called', async () => {
    p.commitOnLast = true;
    p.caps = { ...caps, serverHash: 'sha256' };
    const o = await object(3500);
    await run(o);
    assert.equal(p.finishCalls, 0);
    assert.deepEqual(p.stored.get(o.oid), o.data);
    assert.equal(await resume.get(`resume:dropbox:me:dest:${o.oid}`), null);
  });

  it('a last chunk that stores other bytes than were sent: Corrupt, and the copy is deleted', async () => {
    p.commitOnLast = true;
    p.caps = { ...caps, serverHash: 'sha256' };
    p.reportHash = 'ab'.repeat(32);
    const o = await object(3500);
    await assert.rejects(run(o), (e: BridgeError) => e.kind === 'Corrupt' && /reports hash/.test(e.message));
    assert.deepEqual(p.removed, [o.oid]);
    assert.equal(p.stored.has(o.oid), false);
  });

  it('a lost answer to the chunk that created the object: the stored object is adopted, nothing is sent again', async () => {
    p.commitOnLast = true;
    p.loseCommitAnswer = true;
    const o = await object(3500);
    await run(o);
    assert.deepEqual(p.stored.get(o.oid), o.data);
    assert.equal(p.sessions.size, 1, 'no second session');
    assert.deepEqual(
      p.chunkCalls.map((c) => c.offset),
      [0, 1000, 2000, 3000],
      'each chunk sent once',
    );
    assert.equal(lastProgress(), 3500);
  });

  it('a transient chunk failure re-sends only that chunk; progress never counts bytes twice', async () => {
    const o = await object(3500);
    p.onChunk = (_id, offset, call) => {
      if (offset === 2000 && call === 3) throw transient('reset');
    };
    await run(o);
    assert.deepEqual(p.stored.get(o.oid), o.data);
    assert.equal(p.chunkCalls.filter((c) => c.offset === 2000).length, 2);
    let prev = 0;
    for (const e of events) {
      assert.equal(e.bytesSinceLast, e.bytesSoFar - prev);
      prev = e.bytesSoFar;
    }
    assert.equal(prev, 3500);
  });

  it('resumes from a resume record at the server offset; the first progress is that offset', async () => {
    const o = await object(3500);
    const s = await p.startUpload(o.oid);
    await p.uploadChunk(s, 0, 2000, Readable.from([o.data.subarray(0, 2000)]));
    p.chunkCalls = [];
    await resume.put({
      provider: 'dropbox',
      account: 'me',
      destination: 'dest',
      oid: o.oid,
      size: o.size,
      chunkSize: 1000,
      session: s,
      createdAt: Date.now(),
      offset: 1000, // a stale hint: the server says 2000
    });
    await run(o);
    assert.deepEqual(p.stored.get(o.oid), o.data);
    assert.deepEqual(
      p.chunkCalls.map((c) => c.offset),
      [2000, 3000],
    );
    assert.deepEqual(events[0], { event: 'progress', oid: o.oid, bytesSoFar: 2000, bytesSinceLast: 2000 });
  });

  it('a session that dies after a failed chunk is replaced by a new session', async () => {
    // sendChunks asks queryUpload after a failure; NotFound there must become SessionGone → one fresh session.
    const o = await object(3500);
    p.onChunk = (id, offset) => {
      if (id === 's1' && offset === 2000) {
        const s = p.sessions.get(id);
        if (s) s.alive = false;
        throw transient('connection reset');
      }
    };
    await assert.doesNotReject(run(o), 'the dead session was not replaced');
    assert.deepEqual(p.stored.get(o.oid), o.data);
    assert.ok(p.sessions.has('s2'), 'a second session was started');
  });

  it('a source that does not match its oid fails with 422 and is never committed', async () => {
    const o = await object(3500);
    const other = sha(Buffer.from('x'));
    const meter = new ProgressMeter(other, o.size, (e) => events.push(e), 1);
    await assert.rejects(
      upload(ctx, { event: 'upload', oid: other, size: o.size, path: o.path }, meter),
      (e) => e instanceof BridgeError && e.code === 422,
    );
    assert.equal(p.stored.has(other), false);
    assert.deepEqual(await resume.list(), []);
  });
});
