import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { paceDir, sharedPace } from '../../../src/bridge/pace.js';
import { withRetry } from '../../../src/bridge/retry.js';
import { rateLimited, transient } from '../../../src/errors.js';
import type { RetryPolicy } from '../../../src/lib/backoff.js';

const policy: RetryPolicy = { tries: 4, baseMs: 100, capMs: 1_000, maxWaitMs: 60_000 };

/** A clock the test moves, and a sleep that records its waits and advances the clock by them. */
function clock(start = 1_700_000_000_000) {
  let t = start;
  const waits: number[] = [];
  return {
    now: () => t,
    waits,
    advance: (ms: number) => {
      t += ms;
    },
    sleep: async (ms: number) => {
      waits.push(ms);
      t += ms;
    },
  };
}

describe('bridge/pace (one pace per account, shared by the agent processes)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lfs-bridge-pace-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('costs nothing when nobody was held: no folder is created, no wait', async () => {
    const c = clock();
    const folder = paceDir(dir, 'dropbox', 'a@example.com');
    await sharedPace(folder, c).ready();
    assert.deepEqual(c.waits, []);
    assert.equal(existsSync(folder), false);
  });

  it("one process's hold makes another process's next request wait until it has passed", async () => {
    const c = clock();
    const folder = paceDir(dir, 'dropbox', 'a@example.com');
    const a = sharedPace(folder, c);
    const b = sharedPace(folder, c); // another process: its own instance, the same folder
    await b.ready(); // b has read the folder once (nothing held) and cached that
    await a.hold(3_000, 'too_many_write_operations');
    await b.ready();
    assert.deepEqual(c.waits, [3_000]);
    c.waits.length = 0;
    await b.ready();
    assert.deepEqual(c.waits, [], 'the hold is over');
  });

  it('holds from two processes at once: the later one wins, neither is lost', async () => {
    const c = clock();
    const folder = paceDir(dir, 'dropbox', 'a@example.com');
    await Promise.all([sharedPace(folder, c).hold(5_000, 'x'), sharedPace(folder, c).hold(2_000, 'y')]);
    await sharedPace(folder, c).ready();
    assert.deepEqual(c.waits, [5_000]);
  });

  it('accounts and providers do not share a pace', async () => {
    const c = clock();
    await sharedPace(paceDir(dir, 'dropbox', 'a@example.com'), c).hold(5_000, 'x');
    await sharedPace(paceDir(dir, 'dropbox', 'b@example.com'), c).ready();
    await sharedPace(paceDir(dir, 'gdrive', 'a@example.com'), c).ready();
    assert.deepEqual(c.waits, []);
  });

  it('old holds are removed by whoever passes by', async () => {
    const c = clock();
    const folder = paceDir(dir, 'dropbox', 'a@example.com');
    const p = sharedPace(folder, c);
    for (let i = 0; i < 70; i++) await p.hold(1 + i, 'x');
    c.advance(60_000);
    await new Promise((r) => setTimeout(r, 60)); // the folder's mtime must be older than the re-read window
    await sharedPace(folder, c).ready();
    assert.deepEqual(await readdir(folder), []);
  });

  it('an unusable pace folder never fails a transfer', async () => {
    const c = clock();
    const folder = join(dir, 'not-a-folder');
    await writeFile(folder, 'x');
    const p = sharedPace(folder, { ...c, requestsPerSecond: 10 });
    await p.hold(1_000, 'x');
    await p.ready();
  });

  it('withRetry: a rate limit holds the pace, and every attempt (of any process) waits for it', async () => {
    const c = clock();
    const folder = paceDir(dir, 'dropbox', 'a@example.com');
    const mine = sharedPace(folder, c);
    let calls = 0;
    const out = await withRetry(
      async () => {
        if (++calls === 1) throw rateLimited('too many write operations', 4_000);
        return 'ok';
      },
      { policy, sleep: c.sleep, pace: mine },
    );
    assert.equal(out, 'ok');
    const other = clock(c.now() - 4_000); // another process, at the moment the hold was made
    await withRetry(async () => 'ok', { policy, sleep: other.sleep, pace: sharedPace(folder, other) });
    assert.deepEqual(other.waits, [4_000]);
  });

  it('withRetry: a plain transient error (no Retry-After) is backed off alone, not shared', async () => {
    const c = clock();
    const folder = paceDir(dir, 'dropbox', 'a@example.com');
    let calls = 0;
    await withRetry(
      async () => {
        if (++calls === 1) throw transient('connection reset');
        return 'ok';
      },
      { policy, sleep: c.sleep, pace: sharedPace(folder, c) },
    );
    assert.equal(existsSync(folder), false);
  });

  it('a request budget is one for all processes: 3 processes x 10 requests take 30 distinct slots', async function () {
    this.timeout(60_000);
    const rate = 200; // 5 ms a slot: the test is about who gets which slot, not about waiting
    const folder = paceDir(dir, 'gdrive', 'a@example.com');
    const script = fileURLToPath(new URL('./pace-claimer.ts', import.meta.url));
    const run = () =>
      new Promise<number[]>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', script, folder, String(rate), '10'], {
          stdio: ['ignore', 'pipe', 'inherit'],
        });
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
        });
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}`))));
      });
    const all = (await Promise.all([run(), run(), run()])).flat();
    assert.equal(all.length, 30);
    assert.equal(new Set(all).size, 30, 'no slot was given twice');
    for (const due of all) assert.equal((due * rate) % 1000, 0, 'slots fall on the budget grid');
  });
});
