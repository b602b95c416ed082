/**
 * The 7-day life of a Dropbox upload session and its resume record, on an injected clock: the transfer context's
 * `now` (the product's seam) and the fake's test clock move together. Within the week an interrupted upload goes
 * on where it stopped; past it (less a minute's margin) the record is dropped before the dead session is asked
 * anything, and a new session stores the object.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TransferContext } from '../../../src/bridge/context.js';
import { ProgressMeter } from '../../../src/bridge/progress.js';
import { MemoryResumeStore } from '../../../src/bridge/resume.js';
import { upload } from '../../../src/bridge/upload.js';
import { parseConfig } from '../../../src/config/index.js';
import { createLogger } from '../../../src/log.js';
import { DropboxProvider } from '../../../src/providers/dropbox/provider.js';
import { type FakeDropbox, startFakeDropbox } from '../../fakes/dropbox/server.js';

const MiB = 1024 * 1024;
const DAY = 24 * 3600_000;
const APPEND = '/2/files/upload_session/append_v2';
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('bridge: the 7-day expiry of an upload resume record (injected clock)', function () {
  this.timeout(60_000);
  let fake: FakeDropbox;
  let dir: string;
  let resume: MemoryResumeStore;
  let skew: number;

  beforeEach(async () => {
    fake = await startFakeDropbox();
    dir = await mkdtemp(join(tmpdir(), 'lfsb-expiry-'));
    resume = new MemoryResumeStore();
    skew = 0;
  });
  afterEach(async () => {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  function context(streams: number): TransferContext {
    const token = fake.issueToken().access;
    const provider = new DropboxProvider('default', '/lfs/repo', async () => token, {
      LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url,
    });
    const raw = {
      'lfs-bridge.provider': 'dropbox',
      'lfs-bridge.root': '/lfs/repo',
      'lfs-bridge.uploadstreams': String(streams),
      'lfs-bridge.chunksize': '8MiB',
    };
    return {
      provider,
      config: parseConfig(new Map(Object.entries(raw))),
      log: createLogger('test', {}, () => {}),
      resume: async () => resume,
      lfsPaths: () => Promise.reject(new Error('not used')),
      lockDir: dir,
      retry: { policy: { tries: 2, baseMs: 1, capMs: 1, maxWaitMs: 1 } },
      now: () => Date.now() + skew,
    };
  }

  /** Both clocks, the agent's and Dropbox's, `ms` later. */
  const later = (ms: number) => {
    skew += ms;
    fake.advance(ms);
  };

  const sent = () => Object.values(fake.counters.snapshot().bytesInBySession).reduce((a, b) => a + b, 0);

  /** A 40 MiB object whose first upload stops for good after two appends (the record stays). */
  async function interrupted(streams: number) {
    const data = randomBytes(40 * MiB);
    const o = { oid: sha(data), size: data.length, path: join(dir, 'src') };
    await writeFile(o.path, data);
    const push = () =>
      upload(context(streams), { event: 'upload', ...o }, new ProgressMeter(o.oid, o.size, () => {}, 0));
    fake.faults.add({ route: APPEND, skip: 2, times: 1000, action: { kind: 'status', status: 400, body: 'stop' } });
    await assert.rejects(push());
    fake.faults.clear();
    const [rec] = await resume.list();
    assert.ok(rec, 'the interrupted upload left a resume record');
    return { data, o, push, session: String(rec.session.sessionId) };
  }

  for (const streams of [1, 4]) {
    const how = streams > 1 ? 'pieces' : 'a session in order';

    it(`six days later the upload goes on in its session (${how})`, async () => {
      const { data, o, push, session } = await interrupted(streams);
      later(6 * DAY);
      fake.counters.reset();
      await push();
      assert.ok(fake.files.get(`/lfs/repo/${o.oid.slice(0, 2)}/${o.oid.slice(2, 4)}/${o.oid}`)?.equals(data));
      assert.ok(sent() <= o.size - 16 * MiB, `${sent()} bytes sent again of ${o.size}`);
      assert.ok((fake.counters.snapshot().bytesInBySession[session] ?? 0) > 0, 'the recorded session was used');
      assert.deepEqual(await resume.list(), []);
    });

    for (const age of [7 * DAY + 60_000, 7 * DAY - 30_000])
      it(`${age > 7 * DAY ? 'a week and a minute' : 'half a minute short of a week'} later the record is dropped unasked; a new session stores it (${how})`, async () => {
        const { data, o, push, session } = await interrupted(streams);
        later(age);
        // Anything sent to the old session would meet this; it must stay untouched.
        fake.faults.add({ route: '/2/*', match: session, times: 1000, action: { kind: 'status', status: 418 } });
        await push();
        assert.equal(fake.faults.list()[0]?.times, 1000, 'the expired session was asked something');
        assert.ok(fake.files.get(`/lfs/repo/${o.oid.slice(0, 2)}/${o.oid.slice(2, 4)}/${o.oid}`)?.equals(data));
        assert.deepEqual(await resume.list(), []);
      });
  }
});
