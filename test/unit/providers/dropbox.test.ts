/**
 * The Dropbox provider driven through the bridge (upload/download) against the project's fake Dropbox API:
 * sessions, resume, faults, verification, parallel ranged downloads.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TransferContext } from '../../../src/bridge/context.js';
import { download } from '../../../src/bridge/download.js';
import { ProgressMeter } from '../../../src/bridge/progress.js';
import type { ProgressEvent } from '../../../src/bridge/protocol.js';
import { MemoryResumeStore } from '../../../src/bridge/resume.js';
import { upload } from '../../../src/bridge/upload.js';
import { parseConfig } from '../../../src/config/index.js';
import { BridgeError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';
import { DropboxProvider } from '../../../src/providers/dropbox/provider.js';
import { type FakeDropbox, startFakeDropbox } from '../../fakes/dropbox/server.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const objPath = (oid: string) => `/lfs/repo/${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`;

describe('provider dropbox (against the fake Dropbox API)', function () {
  this.timeout(60_000);
  let fake: FakeDropbox;
  let dir: string;
  let resume: MemoryResumeStore;
  let refreshes: number;
  let waits: number[];

  beforeEach(async () => {
    fake = await startFakeDropbox();
    dir = await mkdtemp(join(tmpdir(), 'lfsb-dbx-'));
    resume = new MemoryResumeStore();
    refreshes = 0;
    waits = [];
  });
  afterEach(async () => {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  function provider() {
    let token = fake.issueToken().access;
    const env = { LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url };
    return new DropboxProvider(
      'default',
      '/lfs/repo',
      async (force) => {
        if (force) {
          refreshes++;
          token = fake.issueToken().access;
        }
        return token;
      },
      env,
    );
  }

  function context(extra: Record<string, string> = {}): TransferContext {
    const raw = new Map(Object.entries({ 'lfs-bridge.provider': 'dropbox', 'lfs-bridge.root': '/lfs/repo', ...extra }));
    return {
      provider: provider(),
      config: parseConfig(raw),
      log: createLogger('test', {}, () => {}),
      resume: async () => resume,
      lfsPaths: async () => ({ lfsDir: dir, incomplete: join(dir, 'incomplete', 'lfs-bridge'), tmp: join(dir, 'tmp') }),
      lockDir: dir,
      retry: {
        policy: { tries: 6, baseMs: 1, capMs: 5, maxWaitMs: 60_000 },
        sleep: async (ms) => {
          waits.push(ms);
        },
      },
      now: Date.now,
    };
  }

  async function object(size: number) {
    const data = randomBytes(size);
    const oid = sha(data);
    const path = join(dir, oid);
    await writeFile(path, data);
    return { data, oid, path, size };
  }

  function meter(oid: string, size: number, events: ProgressEvent[] = []) {
    return new ProgressMeter(oid, size, (e) => events.push(e), 0);
  }

  async function push(
    ctx: TransferContext,
    o: { oid: string; size: number; path: string },
    events: ProgressEvent[] = [],
  ) {
    await upload(ctx, { event: 'upload', oid: o.oid, size: o.size, path: o.path }, meter(o.oid, o.size, events));
    return events;
  }

  async function pull(ctx: TransferContext, o: { oid: string; size: number }, events: ProgressEvent[] = []) {
    const got = await download(ctx, { event: 'download', oid: o.oid, size: o.size }, meter(o.oid, o.size, events));
    await got.release();
    return readFile(got.path);
  }

  it('stat of a missing oid is null', async () => {
    assert.equal(await provider().stat('0'.repeat(64)), null);
  });

  for (const [size, streams] of [
    [0, 4],
    [1, 4],
    [5 * MiB, 4],
    [21 * MiB, 1],
    [21 * MiB, 4],
  ]) {
    const how = size <= 8 * MiB ? '' : streams > 1 ? ' (in pieces)' : ' (a session in order)';
    it(`round-trips ${size} bytes with the right content_hash and complete progress${how}`, async () => {
      const ctx = context({ 'lfs-bridge.chunksize': '8MiB', 'lfs-bridge.uploadstreams': String(streams) });
      const o = await object(size);
      const events = await push(ctx, o);
      const stored = fake.files.get(objPath(o.oid));
      assert.ok(stored?.equals(o.data));
      assert.equal(events.at(-1)?.bytesSoFar, size);
      assert.equal(
        events.reduce((n, e) => n + e.bytesSinceLast, 0),
        size,
      );
      assert.deepEqual(await pull(ctx, o), o.data);
      const chunks = fake.counters.requests['/2/files/upload_session/append_v2'] ?? 0;
      if (size <= 8 * MiB) assert.equal(fake.counters.requests['/2/files/upload'], 1);
      else if (streams === 1) assert.equal(chunks, 3);
      else {
        assert.equal(fake.counters.concurrentSessions, 1);
        assert.equal(chunks, 4, 'pieces of 8, 8, 4 MiB, then the last block that closes the session');
      }
    });
  }

  it('sends nothing for an object already stored', async () => {
    const ctx = context();
    const o = await object(3 * MiB);
    await push(ctx, o);
    fake.counters.reset();
    const events = await push(ctx, o);
    assert.equal(fake.counters.requests['/2/files/upload'] ?? 0, 0);
    assert.equal(
      Object.values(fake.counters.bytesInByPath).reduce((a, b) => a + b, 0),
      0,
    );
    assert.deepEqual(
      events.map((e) => e.bytesSoFar),
      [o.size],
    );
  });

  for (const streams of [1, 4])
    it(`survives a connection reset in the middle of a chunk, re-sending only that chunk (${streams > 1 ? 'pieces' : 'in order'})`, async () => {
      const ctx = context({ 'lfs-bridge.chunksize': '4MiB', 'lfs-bridge.uploadstreams': String(streams) });
      const o = await object(16 * MiB);
      fake.faults.add({
        route: '/2/files/upload_session/append_v2',
        skip: 1,
        action: { kind: 'reset', afterBytes: MiB },
      });
      await push(ctx, o);
      assert.ok(fake.files.get(objPath(o.oid))?.equals(o.data));
      const sent = Object.values(fake.counters.bytesInBySession).reduce((a, b) => a + b, 0);
      assert.ok(sent <= o.size + 4 * MiB, `sent ${sent}`);
      assert.equal(fake.counters.concurrentSessions, streams > 1 ? 1 : 0);
    });

  it('waits out 429 with Retry-After, and 503, then succeeds', async () => {
    const ctx = context({ 'lfs-bridge.chunksize': '4MiB' });
    const o = await object(9 * MiB);
    fake.faults.add({
      route: '/2/files/upload_session/append_v2',
      action: {
        kind: 'status',
        status: 429,
        headers: { 'retry-after': '2', 'content-type': 'application/json' },
        body: '{"error_summary":"too_many_write_operations/..","error":{"reason":{".tag":"too_many_write_operations"},"retry_after":2}}',
      },
    });
    fake.faults.add({ route: '/2/files/upload_session/finish', action: { kind: 'status', status: 503 } });
    await push(ctx, o);
    assert.ok(waits.includes(2000), `waits ${waits}`);
    assert.ok(fake.files.get(objPath(o.oid))?.equals(o.data));
  });

  for (const size of [6 * MiB, 12 * MiB])
    it(`a server that stores other bytes than were sent fails the upload as Corrupt (${size / MiB} MiB)`, async () => {
      // 6 MiB: one files/upload, content_hash computed beside SHA-256; 12 MiB: a session, content_hash computed
      // on the disk thread from the source file.
      const ctx = context({ 'lfs-bridge.chunksize': '4MiB' });
      const o = await object(size);
      const route = size > 8 * MiB ? '/2/files/upload_session/append_v2' : '/2/files/upload';
      fake.faults.add({ route, skip: size > 8 * MiB ? 1 : 0, action: { kind: 'corrupt', byteIndex: 1000 } });
      await assert.rejects(
        push(ctx, o),
        (e: unknown) => e instanceof BridgeError && e.kind === 'Corrupt' && /reports hash .*deleted it/.test(e.message),
      );
      assert.equal(fake.files.get(objPath(o.oid)), undefined, 'the wrong copy is gone');
      await push(ctx, o); // the next push sends it again
      assert.ok(fake.files.get(objPath(o.oid))?.equals(o.data));
    });

  it('adopts a commit whose answer was lost', async () => {
    const ctx = context({ 'lfs-bridge.chunksize': '4MiB' });
    const o = await object(9 * MiB);
    fake.faults.add({ route: '/2/files/upload_session/finish', action: { kind: 'commit-then-drop' } });
    await push(ctx, o);
    assert.ok(fake.files.get(objPath(o.oid))?.equals(o.data));
  });

  it('refreshes an expired access token once and carries on', async () => {
    const ctx = context({ 'lfs-bridge.chunksize': '4MiB' });
    const o = await object(12 * MiB);
    fake.faults.add({ route: '/2/files/upload_session/append_v2', skip: 1, action: { kind: 'delay', ms: 1 } });
    await push(ctx, { ...o, size: o.size });
    fake.expireAccessTokens();
    const o2 = await object(12 * MiB);
    await push(ctx, o2);
    assert.equal(refreshes, 1);
    assert.ok(fake.files.get(objPath(o2.oid))?.equals(o2.data));
  });

  it('resumes an interrupted upload session from the server offset (≤ 1 chunk re-sent)', async () => {
    const ctx = context({ 'lfs-bridge.chunksize': '4MiB', 'lfs-bridge.uploadstreams': '1' });
    const o = await object(24 * MiB);
    // The third chunk keeps failing: the first run gives up with a resume record left behind.
    fake.faults.add({
      route: '/2/files/upload_session/append_v2',
      skip: 2,
      times: 100,
      action: { kind: 'reset', afterBytes: MiB },
    });
    await assert.rejects(push(ctx, o));
    assert.equal((await resume.list()).length, 1);
    fake.faults.clear();
    const before = Object.values(fake.counters.bytesInBySession).reduce((a, b) => a + b, 0);
    // Even with pieces allowed now: a session in order under way is continued as one.
    const events = await push(context({ 'lfs-bridge.chunksize': '4MiB' }), o);
    const after = Object.values(fake.counters.bytesInBySession).reduce((a, b) => a + b, 0);
    assert.ok(fake.files.get(objPath(o.oid))?.equals(o.data));
    assert.equal(fake.counters.concurrentSessions, 0);
    assert.equal(events[0].bytesSoFar, 8 * MiB, 'the resumed prefix is reported at once');
    assert.ok(after - before <= o.size - 8 * MiB, `second run sent ${after - before}`);
    assert.equal((await resume.list()).length, 0);
  });

  it('resumes an upload in pieces: only the pieces the server did not acknowledge are sent again', async () => {
    const ctx = () => context({ 'lfs-bridge.chunksize': '4MiB', 'lfs-bridge.uploadstreams': '4' });
    const o = await object(26 * MiB); // pieces of 4 MiB (0-24 MiB), then the last 2 MiB that close the session
    fake.faults.add({
      route: '/2/files/upload_session/append_v2',
      skip: 3,
      times: 100,
      action: { kind: 'reset', afterBytes: MiB },
    });
    await assert.rejects(push(ctx(), o));
    const [rec] = await resume.list();
    assert.deepEqual(
      rec.pieces?.sort((a, b) => a - b),
      [0, 4 * MiB, 8 * MiB],
      'three pieces acknowledged',
    );
    assert.equal(rec.offset, 12 * MiB);
    fake.faults.clear();
    const before = Object.values(fake.counters.bytesInBySession).reduce((a, b) => a + b, 0);
    const events = await push(ctx(), o);
    const after = Object.values(fake.counters.bytesInBySession).reduce((a, b) => a + b, 0);
    assert.ok(fake.files.get(objPath(o.oid))?.equals(o.data));
    assert.equal(fake.counters.concurrentSessions, 1, 'the recorded session was continued');
    assert.equal(after - before, o.size - 12 * MiB, 'only the missing pieces were sent');
    assert.equal(events[0].bytesSoFar, 12 * MiB, 'what the server has is reported at once');
    assert.equal(events.at(-1)?.bytesSoFar, o.size);
    assert.equal((await resume.list()).length, 0);
  });

  for (const streams of ['1', '4'])
    it(`a piece whose answer was lost, sent again and refused (incorrect_offset), counts as held (${streams} stream(s))`, async () => {
      const ctx = context({ 'lfs-bridge.chunksize': '4MiB', 'lfs-bridge.uploadstreams': streams });
      const o = await object(26 * MiB);
      if (streams === '1') {
        // a session in order: the lost append's bytes are found by asking for the offset
        fake.faults.add({ route: '/2/files/upload_session/append_v2', skip: 1, action: { kind: 'commit-then-drop' } });
        await push(ctx, o);
        assert.ok(fake.files.get(objPath(o.oid))?.equals(o.data));
        return;
      }
      fake.faults.add({ route: '/2/files/upload_session/append_v2', skip: 2, action: { kind: 'commit-then-drop' } });
      await push(ctx, o);
      assert.ok(fake.files.get(objPath(o.oid))?.equals(o.data));
      assert.equal(fake.counters.concurrentSessions, 1, 'the same session');
      // seven pieces, one of them sent again (and refused): no piece went twice into the session
      assert.equal(fake.counters.requests['/2/files/upload_session/append_v2'], 8);
      assert.equal((await resume.list()).length, 0);
    });

  it('a piece held only in part by the session starts a fresh session', async () => {
    const ctx = context({ 'lfs-bridge.chunksize': '8MiB', 'lfs-bridge.uploadstreams': '4' });
    const o = await object(26 * MiB); // pieces 0-8, 8-16, 16-24 MiB, then the closing 2 MiB
    const p = ctx.provider;
    // an earlier, differently cut attempt left block 4-8 MiB in the session
    const session = await p.startUpload(o.oid, o.size, undefined, { concurrent: true });
    const { Readable } = await import('node:stream');
    await p.uploadChunk(session, 4 * MiB, 4 * MiB, Readable.from([o.data.subarray(4 * MiB, 8 * MiB)]), false);
    await assert.rejects(
      p.uploadChunk(session, 0, 8 * MiB, Readable.from([o.data.subarray(0, 8 * MiB)]), false),
      (e: BridgeError) => e.kind === 'NotFound' && /holds part of the piece at 0 \(up to 0\)/.test(e.message),
    );
  });

  it('a closing piece whose answer was lost is not sent into a new session: the commit goes ahead', async () => {
    const ctx = context({ 'lfs-bridge.chunksize': '4MiB', 'lfs-bridge.uploadstreams': '4' });
    const o = await object(26 * MiB); // six pieces of 4 MiB, then the closing 2 MiB: the seventh append
    fake.faults.add({ route: '/2/files/upload_session/append_v2', skip: 6, action: { kind: 'commit-then-drop' } });
    await push(ctx, o);
    assert.ok(fake.files.get(objPath(o.oid))?.equals(o.data));
    assert.equal(fake.counters.concurrentSessions, 1, 'no second session');
    const sent = Object.values(fake.counters.bytesInBySession).reduce((a, b) => a + b, 0);
    assert.ok(sent <= o.size + 2 * MiB, `sent ${sent}`);
  });

  it('sends pieces in parallel when one connection is slow (the closing piece last: the fake refuses any after it)', async () => {
    fake.setUploadThrottle(6 * MiB); // per request: a far-away server
    const ctx = context({ 'lfs-bridge.chunksize': '4MiB', 'lfs-bridge.uploadstreams': '4' });
    const o = await object(40 * MiB);
    await push(ctx, o);
    assert.ok(fake.files.get(objPath(o.oid))?.equals(o.data));
    assert.ok(fake.counters.appendsAtOnceMax >= 2, `at most ${fake.counters.appendsAtOnceMax} append(s) at once`);
  });

  it('a source that is not its oid stops the pieces and commits nothing', async () => {
    const ctx = context({ 'lfs-bridge.chunksize': '4MiB', 'lfs-bridge.uploadstreams': '4' });
    const o = await object(20 * MiB);
    const wrong = { ...o, oid: sha(Buffer.from('something else')) };
    await assert.rejects(push(ctx, wrong), (e: BridgeError) => e.kind === 'Corrupt' && /SHA-256/.test(e.message));
    assert.equal(fake.counters.requests['/2/files/upload_session/finish'] ?? 0, 0, 'never committed');
    assert.equal(fake.files.get(objPath(wrong.oid)), undefined);
    assert.equal((await resume.list()).length, 0, 'no record kept for a bad source');
  });

  it('starts a new session when the recorded one expired', async () => {
    const ctx = context({ 'lfs-bridge.chunksize': '4MiB' });
    const o = await object(12 * MiB);
    fake.faults.add({
      route: '/2/files/upload_session/append_v2',
      skip: 1,
      times: 100,
      action: { kind: 'status', status: 400, body: 'nope' },
    });
    await assert.rejects(push(ctx, o));
    fake.faults.clear();
    fake.expireSessions();
    await push(context({ 'lfs-bridge.chunksize': '4MiB' }), o);
    assert.ok(fake.files.get(objPath(o.oid))?.equals(o.data));
  });

  it('fails with a conflict when other bytes sit under the oid, and never overwrites them', async () => {
    const ctx = context();
    const o = await object(2 * MiB);
    const other = randomBytes(2 * MiB + 1);
    fake.files.put(objPath(o.oid), other);
    await assert.rejects(push(ctx, o), (e: BridgeError) => e.code === 409);
    assert.ok(fake.files.get(objPath(o.oid))?.equals(other));
  });

  it('downloads in parallel ranges, verified, continuing a range after a reset', async () => {
    const ctx = context({ 'lfs-bridge.downloadstreams': '4' });
    const o = await object(40 * MiB);
    fake.files.put(objPath(o.oid), o.data);
    fake.faults.add({ route: '/link/*', skip: 2, action: { kind: 'reset', afterBytes: 3 * MiB } });
    assert.ok((await pull(ctx, o)).equals(o.data));
  });

  it('rejects a corrupted download once from zero, then with 422 when it stays corrupt', async () => {
    const ctx = context({ 'lfs-bridge.downloadstreams': '1' });
    const o = await object(3 * MiB);
    fake.files.put(objPath(o.oid), o.data);
    fake.faults.add({ route: '/link/*', action: { kind: 'corrupt', byteIndex: 1000 } });
    assert.ok((await pull(ctx, o)).equals(o.data), 'a one-off corruption is healed by the retry from zero');
    fake.files.corrupt(objPath(o.oid), 5);
    await assert.rejects(pull(ctx, o), (e: BridgeError) => e.code === 422);
  });

  it("refuses an object beyond Dropbox's 350 GB up front, with a clear message and no request at all", async () => {
    const ctx = context();
    assert.equal(ctx.provider.caps.maxObjectSize, 350e9);
    const size = 350e9 + 1;
    const path = join(dir, 'huge');
    await writeFile(path, '');
    await truncate(path, size); // sparse: nothing is read before the refusal
    const oid = 'a'.repeat(64);
    await assert.rejects(push(ctx, { oid, size, path }), (e: BridgeError) => {
      assert.equal(e.kind, 'BadRequest');
      assert.match(
        e.message,
        /has 326\.0 GiB \(350000000001 bytes\): dropbox stores files of at most 326\.0 GiB \(350000000000 bytes\)/,
      );
      return true;
    });
    assert.deepEqual(fake.counters.requests, {}, 'not even a stat');
  });

  it('a session the server finds too large fails with a clear message, not as Unexpected', async () => {
    await fake.close();
    fake = await startFakeDropbox({ sessionMaxBytes: 12 * MiB });
    for (const streams of ['1', '4']) {
      const o = await object(21 * MiB);
      await assert.rejects(
        push(context({ 'lfs-bridge.chunksize': '8MiB', 'lfs-bridge.uploadstreams': streams }), o),
        (e: BridgeError) =>
          e.kind === 'BadRequest' && /larger than Dropbox stores in one file \(too_large\)/.test(e.message),
      );
      assert.equal(fake.files.get(objPath(o.oid)), undefined);
    }
  });

  it('a team-space member works in the team space (Dropbox-API-Path-Root); a changed root is followed', async () => {
    const space = fake.createTeamSpace('Acme');
    fake.joinTeamSpace('default', space, 'Default Tester');
    const ctx = context();
    const a = await object(1000);
    await push(ctx, a);
    const home = fake.account().home_namespace_id;
    assert.ok(fake.files.get(objPath(a.oid), space)?.equals(a.data), 'in the team space root');
    assert.equal(fake.files.get(objPath(a.oid), home), undefined);
    assert.deepEqual(await pull(ctx, a), a.data);
    fake.leaveTeamSpace('default');
    const b = await object(1000);
    await push(ctx, b); // 422 invalid_root names the new root: the same process carries on there
    assert.ok(fake.files.get(objPath(b.oid), home)?.equals(b.data), 'in the home folder, the root now');
    assert.equal(fake.counters.requests['/2/users/get_current_account'], 1, 'the root is read once');
  });

  it('reports a missing object as 404', async () => {
    const o = await object(10);
    await assert.rejects(pull(context(), o), (e: BridgeError) => e.code === 404);
  });
});
