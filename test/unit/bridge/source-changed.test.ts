/**
 * A source rewritten while it is uploaded (same size, other bytes), with the real providers (a local store; Dropbox
 * against the fake API): never committed, and the error says the file changed. The change lands at a chosen moment:
 * where the hash reads the file apart from the bytes that leave (kernel copy, pieces), after the hash has passed.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TransferContext } from '../../../src/bridge/context.js';
import { ProgressMeter } from '../../../src/bridge/progress.js';
import type { ProgressEvent } from '../../../src/bridge/protocol.js';
import { MemoryResumeStore } from '../../../src/bridge/resume.js';
import { upload } from '../../../src/bridge/upload.js';
import { parseConfig } from '../../../src/config/index.js';
import { BridgeError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';
import { DropboxProvider } from '../../../src/providers/dropbox/provider.js';
import local from '../../../src/providers/local/index.js';
import type { Provider } from '../../../src/providers/types.js';
import { type FakeDropbox, startFakeDropbox } from '../../fakes/dropbox/server.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const CHANGED = /changed while it was being uploaded, so [0-9a-f]{64} was not stored/;

describe('bridge: a source changed while it is uploaded', function () {
  this.timeout(60_000);
  let dir: string;
  let resume: MemoryResumeStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lfsb-changed-'));
    resume = new MemoryResumeStore();
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  function context(provider: Provider, extra: Record<string, string>): TransferContext {
    return {
      provider,
      config: parseConfig(new Map(Object.entries(extra))),
      log: createLogger('test', {}, () => {}),
      resume: async () => resume,
      lfsPaths: async () => ({ lfsDir: dir, incomplete: join(dir, 'incomplete'), tmp: join(dir, 'tmp') }),
      lockDir: dir,
      retry: { policy: { tries: 3, baseMs: 1, capMs: 1, maxWaitMs: 1 } },
      now: Date.now,
    };
  }

  /** An object written an hour ago, as git-lfs's objects are (a write now moves its mtime). */
  async function object(size: number) {
    const data = randomBytes(size);
    const oid = sha(data);
    const path = join(dir, `src-${size}`);
    await writeFile(path, data);
    const past = new Date(Date.now() - 3600_000);
    await utimes(path, past, past);
    return { data, oid, path, size };
  }

  /** Flips the object's last byte in place: same size, other bytes. */
  const rewrite = (path: string, size: number, data: Buffer) => {
    const fd = openSync(path, 'r+');
    try {
      writeSync(fd, Buffer.from([data[size - 1] ^ 0xff]), 0, 1, size - 1);
    } finally {
      closeSync(fd);
    }
  };

  async function push(
    ctx: TransferContext,
    o: { oid: string; size: number; path: string },
    onEvent: (e: ProgressEvent) => void = () => {},
  ) {
    const events: ProgressEvent[] = [];
    const meter = new ProgressMeter(
      o.oid,
      o.size,
      (e) => {
        events.push(e);
        onEvent(e);
      },
      0,
    );
    return upload(ctx, { event: 'upload', oid: o.oid, size: o.size, path: o.path }, meter).then(
      () => events,
      (e) => {
        throw Object.assign(e, { events });
      },
    );
  }

  const isChanged = (e: unknown) => {
    assert.ok(e instanceof BridgeError, String(e));
    assert.match(e.message, CHANGED);
    assert.equal(e.code, 422);
    return true;
  };

  describe('local store', () => {
    let store: string;
    let ctx: TransferContext;
    beforeEach(async () => {
      store = join(dir, 'store');
      await mkdir(store);
      const config = { 'lfs-bridge.provider': 'local', 'lfs-bridge.root': store };
      const log = createLogger('test', {}, () => {});
      ctx = context(
        await local.create({ config: parseConfig(new Map(Object.entries(config))), env: {}, log, cwd: dir }),
        config,
      );
    });

    it('the kernel copy reads it after the hash did: not stored, "changed" (found a defect: it was stored)', async () => {
      const o = await object(9 * MiB);
      const p = ctx.provider;
      const copy = p.copyFromFile!.bind(p);
      let hashed = false;
      // The hash beside the copy reports its progress: once it has read the whole source, rewrite, then copy.
      p.copyFromFile = async (session, src) => {
        while (!hashed) await new Promise((r) => setTimeout(r, 1));
        rewrite(src, o.size, o.data);
        return copy(session, src);
      };
      await assert.rejects(
        push(ctx, o, (e) => {
          hashed ||= e.bytesSoFar === o.size;
        }),
        isChanged,
      );
      assert.equal(await p.stat(o.oid), null, 'nothing stored under the oid');
    });

    it('one-shot put (streamed, hashed as sent): not stored, "changed"', async () => {
      const o = await object(3 * MiB);
      let once = false;
      await assert.rejects(
        push(ctx, o, () => {
          if (!once) rewrite(o.path, o.size, o.data);
          once = true;
        }),
        isChanged,
      );
      assert.equal(await ctx.provider.stat(o.oid), null);
    });
  });

  describe('dropbox (fake API)', () => {
    let fake: FakeDropbox;
    beforeEach(async () => {
      fake = await startFakeDropbox();
    });
    afterEach(() => fake.close());

    function dropbox(streams: number) {
      const token = fake.issueToken().access;
      const p = new DropboxProvider('default', '/lfs/repo', async () => token, {
        LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url,
      });
      return context(p, {
        'lfs-bridge.provider': 'dropbox',
        'lfs-bridge.root': '/lfs/repo',
        'lfs-bridge.uploadstreams': String(streams),
        'lfs-bridge.chunksize': '8MiB',
      });
    }
    const finishes = () => fake.counters.snapshot().requests['/2/files/upload_session/finish'] ?? 0;
    const stored = () => fake.files.list().length;

    it('in pieces, rewritten before the closing piece: no commit, "changed" (found a defect: committed, then deleted)', async () => {
      const ctx = dropbox(4);
      const o = await object(40 * MiB);
      const p = ctx.provider;
      const send = p.uploadChunk.bind(p);
      p.uploadChunk = async (session, offset, length, body, last, signal) => {
        if (last) rewrite(o.path, o.size, o.data); // the pieces are sent and the hash has read the whole source
        return send(session, offset, length, body, last, signal);
      };
      await assert.rejects(push(ctx, o), isChanged);
      assert.equal(finishes(), 0, 'the session was never committed');
      assert.equal(stored(), 0);
      assert.deepEqual(await resume.list(), [], 'the session of mixed bytes is not resumed');
    });

    it('a session in order, rewritten after its first chunk: no commit, "changed"', async () => {
      const ctx = dropbox(1);
      const o = await object(20 * MiB);
      let once = false;
      await assert.rejects(
        push(ctx, o, () => {
          if (!once) rewrite(o.path, o.size, o.data);
          once = true;
        }),
        isChanged,
      );
      assert.equal(finishes(), 0);
      assert.equal(stored(), 0);
      assert.deepEqual(await resume.list(), []);
    });

    it('one-shot files/upload, rewritten as it is sent: not stored, "changed"', async () => {
      const ctx = dropbox(4);
      const o = await object(6 * MiB);
      let once = false;
      await assert.rejects(
        push(ctx, o, () => {
          if (!once) rewrite(o.path, o.size, o.data);
          once = true;
        }),
        isChanged,
      );
      assert.equal(stored(), 0);
    });
  });
});
