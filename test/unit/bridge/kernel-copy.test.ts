/**
 * The kernel-copy path for stores on this machine (`local`): the copy runs beside a hash of the source, and
 * nothing is committed or handed over unless that hash is the oid.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TransferContext } from '../../../src/bridge/context.js';
import { download } from '../../../src/bridge/download.js';
import { ProgressMeter } from '../../../src/bridge/progress.js';
import type { ProgressEvent } from '../../../src/bridge/protocol.js';
import { MemoryResumeStore } from '../../../src/bridge/resume.js';
import { upload } from '../../../src/bridge/upload.js';
import { parseConfig } from '../../../src/config/index.js';
import type { BridgeError } from '../../../src/errors.js';
import { createLogger } from '../../../src/log.js';
import local from '../../../src/providers/local/index.js';

const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('bridge: kernel copy beside a hash (local store)', () => {
  let dir: string;
  let store: string;
  let ctx: TransferContext;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lfsb-kcopy-'));
    store = join(dir, 'store');
    await mkdir(store);
    const config = parseConfig(
      new Map([
        ['lfs-bridge.provider', 'local'],
        ['lfs-bridge.root', store],
      ]),
    );
    const log = createLogger('test', {}, () => {});
    ctx = {
      provider: await local.create({ config, env: {}, log, cwd: dir }),
      config,
      log,
      resume: async () => new MemoryResumeStore(),
      lfsPaths: async () => ({ lfsDir: dir, incomplete: join(dir, 'incomplete'), tmp: join(dir, 'tmp') }),
      lockDir: dir,
      retry: { policy: { tries: 2, baseMs: 1, capMs: 1, maxWaitMs: 1 } },
      now: Date.now,
    };
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const meter = (oid: string, size: number, events: ProgressEvent[]) =>
    new ProgressMeter(oid, size, (e) => events.push(e), 0);

  it('uploads a large object with the kernel copy, progress rising to its size', async () => {
    const data = randomBytes(9 * MiB);
    const oid = sha(data);
    const src = join(dir, 'src');
    await writeFile(src, data);
    const events: ProgressEvent[] = [];
    await upload(ctx, { event: 'upload', oid, size: data.length, path: src }, meter(oid, data.length, events));
    assert.ok((await readFile(join(store, oid.slice(0, 2), oid.slice(2, 4), oid))).equals(data));
    assert.equal(events.at(-1)?.bytesSoFar, data.length);
    assert.ok(events.length >= 2, 'progress while hashing');
  });

  it('never commits a source whose bytes are not its oid, and leaves no partial', async () => {
    const data = randomBytes(9 * MiB);
    const oid = sha(data);
    data[5 * MiB] ^= 1;
    const src = join(dir, 'src');
    await writeFile(src, data);
    await assert.rejects(
      upload(ctx, { event: 'upload', oid, size: data.length, path: src }, meter(oid, data.length, [])),
      (e: BridgeError) => e.code === 422,
    );
    assert.deepEqual(
      (await readdir(store)).filter((n) => n !== '.lfs-bridge-incoming'),
      [],
    );
    assert.deepEqual(await readdir(join(store, '.lfs-bridge-incoming')), []);
  });

  it('downloads with the kernel copy and rejects a stored object that was corrupted (422, nothing handed over)', async () => {
    const data = randomBytes(6 * MiB);
    const oid = sha(data);
    const at = join(store, oid.slice(0, 2), oid.slice(2, 4));
    await mkdir(at, { recursive: true });
    await writeFile(join(at, oid), data);
    const ok = await download(ctx, { event: 'download', oid, size: data.length }, meter(oid, data.length, []));
    assert.ok((await readFile(ok.path)).equals(data));
    await ok.release();
    data[123] ^= 1;
    await writeFile(join(at, oid), data);
    await assert.rejects(
      download(ctx, { event: 'download', oid, size: data.length }, meter(oid, data.length, [])),
      (e: BridgeError) => e.code === 422,
    );
    assert.deepEqual(await readdir(join(dir, 'incomplete')), []);
    assert.deepEqual((await readdir(join(dir, 'tmp'))).length, 1, 'only the first, verified hand-over');
  });
});
