/** The parallel ranged downloader: long ranges split at the middle, the adaptive ramp, resume from the sidecar. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { TransferContext } from '../../../src/bridge/context.js';
import { ProgressMeter } from '../../../src/bridge/progress.js';
import type { RangeOpener, RangeRead } from '../../../src/bridge/read-range.js';
import { MemoryResumeStore } from '../../../src/bridge/resume.js';
import { fetchSegments } from '../../../src/bridge/segments.js';
import { parseConfig } from '../../../src/config/index.js';
import { BridgeError } from '../../../src/errors.js';
import { readableFill } from '../../../src/http/fill-body.js';
import { createLogger } from '../../../src/log.js';
import type { Provider } from '../../../src/providers/types.js';

const KiB = 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Serves `data` in 16 KiB pieces, each stream capped at `bytesPerSec`, or all streams together sharing one link of
 * `linkBytesPerSec`; can ignore Range or die after N bytes.
 */
function provider(
  data: Buffer,
  o: { bytesPerSec?: number; linkBytesPerSec?: number; ignoreRange?: boolean; dieAfter?: number } = {},
) {
  const stats = { requests: 0, bytes: 0, maxConcurrent: 0, open: 0 };
  let served = 0;
  let linkFree = 0; // when the shared link can carry the next piece (performance.now() ms)
  const p = {
    name: 'dropbox',
    caps: { parallelRanges: true },
    /** The range opener fetchSegments is given (the provider's read target stands in for a scripted server). */
    async open(_oid: string, _size: number, start: number, end: number, signal?: AbortSignal): Promise<RangeRead> {
      stats.requests++;
      const from = o.ignoreRange ? 0 : start;
      const to = o.ignoreRange ? data.length : end;
      async function* gen() {
        stats.open++;
        stats.maxConcurrent = Math.max(stats.maxConcurrent, stats.open);
        try {
          for (let at = from; at < to; at += 16 * KiB) {
            if (signal?.aborted) return;
            if (o.dieAfter !== undefined && served >= o.dieAfter)
              throw new BridgeError('Forbidden', false, 'scripted death');
            const piece = data.subarray(at, Math.min(to, at + 16 * KiB));
            served += piece.length;
            stats.bytes += piece.length;
            if (o.bytesPerSec) await new Promise((r) => setTimeout(r, (piece.length / o.bytesPerSec!) * 1000));
            if (o.linkBytesPerSec) {
              linkFree = Math.max(linkFree, performance.now()) + (piece.length / o.linkBytesPerSec) * 1000;
              await new Promise((r) => setTimeout(r, linkFree - performance.now()));
            }
            yield piece;
          }
        } finally {
          stats.open--;
        }
      }
      return { start: from, body: readableFill(Readable.from(gen())) };
    },
  } as unknown as Provider;
  return { p, stats };
}

for (const diskThread of [false, true])
  describe(`bridge/segments (${diskThread ? 'written by the disk thread' : 'written in this thread'})`, function () {
    this.timeout(30_000);
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'lfsb-seg-'));
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    const ctx = (p: Provider): TransferContext => ({
      provider: p,
      config: parseConfig(
        new Map([
          ['lfs-bridge.provider', 'dropbox'],
          ['lfs-bridge.root', '/x'],
        ]),
      ),
      log: createLogger('test', {}, () => {}),
      resume: async () => new MemoryResumeStore(),
      lfsPaths: async () => ({ lfsDir: dir, incomplete: dir, tmp: dir }),
      lockDir: dir,
      retry: { policy: { tries: 3, baseMs: 1, capMs: 1, maxWaitMs: 1 } },
      now: Date.now,
    });
    const run = (p: Provider, data: Buffer, maxStreams: number, segment = 256 * KiB, windowMs = 150) =>
      fetchSegments({
        ctx: ctx(p),
        oid: sha(data),
        size: data.length,
        part: join(dir, 'x.part'),
        statePath: join(dir, 'x.state'),
        meter: new ProgressMeter(sha(data), data.length, () => {}, 0),
        maxStreams,
        segment,
        windowMs,
        diskThread,
        open: (p as unknown as { open: RangeOpener }).open,
      });

    it('adds streams under a per-stream cap, each reading one long range', async () => {
      // How many streams the ramp reaches depends on measured throughput, so on the machine's load: its decisions
      // are counted tick by tick in ramp.test.ts. Here only what no load can change: the first interval that moves
      // bytes adds a second stream (a capped stream is never "already fast"), and the split is correct.
      const data = randomBytes(6 * 1024 * KiB);
      const { p, stats } = provider(data, { bytesPerSec: 4 * 1024 * KiB });
      await run(p, data, 4);
      assert.ok((await readFile(join(dir, 'x.part'))).equals(data));
      assert.ok(stats.maxConcurrent >= 2, `streams: ${stats.maxConcurrent}`);
      assert.ok(stats.requests <= 8, `one long range per stream, not one per segment: ${stats.requests} requests`);
    });

    it('on a link that more streams cannot widen, tries two once and goes back to one (never four)', async () => {
      const data = randomBytes(8 * 1024 * KiB);
      const { p, stats } = provider(data, { linkBytesPerSec: 8 * 1024 * KiB });
      await run(p, data, 4, 256 * KiB, 150);
      assert.ok((await readFile(join(dir, 'x.part'))).equals(data));
      assert.equal(stats.maxConcurrent, 2, `streams at once: ${stats.maxConcurrent}`);
    });

    it('with one stream allowed, reads the whole object in one request', async () => {
      const data = randomBytes(3 * 1024 * KiB);
      const { p, stats } = provider(data);
      await run(p, data, 1);
      assert.equal(stats.requests, 1);
    });

    it('a server that ignores Range (200) still yields the right bytes', async () => {
      const data = randomBytes(2 * 1024 * KiB);
      const { p } = provider(data, { ignoreRange: true, bytesPerSec: 8 * 1024 * KiB });
      await run(p, data, 4, 128 * KiB, 50);
      assert.ok((await readFile(join(dir, 'x.part'))).equals(data));
    });

    it('resumes a segmented partial from its sidecar, fetching only what is missing', async () => {
      const data = randomBytes(4 * 1024 * KiB);
      const first = provider(data, { dieAfter: 1536 * KiB, bytesPerSec: 8 * 1024 * KiB });
      await assert.rejects(run(first.p, data, 4, 256 * KiB, 50));
      const second = provider(data);
      await run(second.p, data, 4);
      assert.ok((await readFile(join(dir, 'x.part'))).equals(data));
      assert.ok(second.stats.bytes <= data.length - 1024 * KiB, `second run fetched ${second.stats.bytes}`);
    });

    it('bytes that do not hash to the oid fail as Corrupt, never hand over', async () => {
      const data = randomBytes(3 * 1024 * KiB);
      const { p } = provider(data);
      const wrongOid = sha(Buffer.from('something else'));
      await assert.rejects(
        fetchSegments({
          ctx: ctx(p),
          oid: wrongOid,
          size: data.length,
          part: join(dir, 'x.part'),
          statePath: join(dir, 'x.state'),
          meter: new ProgressMeter(wrongOid, data.length, () => {}, 0),
          maxStreams: 2,
          open: (p as unknown as { open: RangeOpener }).open,
          segment: 256 * KiB,
          diskThread,
        }),
        (e: unknown) => e instanceof BridgeError && e.kind === 'Corrupt',
      );
    });

    it('tiny objects (1 byte, 1000 bytes) in one request each', async () => {
      for (const n of [1, 1000]) {
        const data = randomBytes(n);
        const { p, stats } = provider(data);
        await run(p, data, 4);
        assert.ok((await readFile(join(dir, 'x.part'))).equals(data));
        assert.equal(stats.requests, 1);
        await rm(join(dir, 'x.part'));
        await rm(join(dir, 'x.state'), { force: true });
      }
    });

    it('continues a plain sequential prefix left by an earlier run', async () => {
      const data = randomBytes(3 * 1024 * KiB + 17);
      await writeFile(join(dir, 'x.part'), data.subarray(0, 1234567));
      const { p, stats } = provider(data);
      await run(p, data, 1);
      assert.ok((await readFile(join(dir, 'x.part'))).equals(data));
      assert.equal(stats.bytes, data.length - 1234567);
    });
  });
