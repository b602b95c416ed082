import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tryLock, waitLock } from '../../../src/lib/lock.js';

const LOCK = fileURLToPath(new URL('../../../src/lib/lock.ts', import.meta.url));
const deadPid = () =>
  Number(String(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout));

/** A process that takes and releases the lock in a loop for `ms`, logging +pid/-pid around each hold. */
function hammer(path: string, ms: number): Promise<void> {
  const code = `
    import { tryLock } from ${JSON.stringify(LOCK)};
    import { appendFileSync } from 'node:fs';
    const end = Date.now() + ${ms};
    while (Date.now() < end) {
      const l = await tryLock(${JSON.stringify(path)});
      if (l) {
        appendFileSync(${JSON.stringify(`${path}.log`)}, '+\\n');
        await new Promise((r) => setTimeout(r, 2));
        appendFileSync(${JSON.stringify(`${path}.log`)}, '-\\n');
        await l.release();
      }
      await new Promise((r) => setImmediate(r));
    }`;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { stdio: 'inherit' });
    p.on('error', reject);
    p.on('close', (c) => (c === 0 ? resolve() : reject(new Error(`hammer exited ${c}`))));
  });
}

describe('lib/lock under contention', () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lfsb-oauth-lock-'));
    path = join(dir, 'token.lock');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('is exclusive across processes under contention (never two holders)', async function () {
    this.timeout(30_000);
    await Promise.all(Array.from({ length: 6 }, () => hammer(path, 2000)));
    let held = 0;
    let max = 0;
    let n = 0;
    for (const l of (await readFile(`${path}.log`, 'utf8')).split('\n')) {
      if (l === '+') {
        held++;
        n++;
      } else if (l === '-') held--;
      max = Math.max(max, held);
    }
    assert.ok(n > 20, `only ${n} acquisitions`);
    assert.equal(max, 1);
  });

  it('writes pid, host and time; release frees it; no temp files remain', async () => {
    const a = await tryLock(path);
    assert.ok(a);
    const h = JSON.parse(await readFile(path, 'utf8'));
    assert.equal(h.pid, process.pid);
    assert.equal(h.host, hostname());
    assert.equal(await tryLock(path), null);
    await a.release();
    assert.deepEqual(await readdir(dir), []);
    const b = await tryLock(path);
    assert.ok(b);
    await b.release();
  });

  it('takes over a lock whose process is gone', async () => {
    await writeFile(path, JSON.stringify({ pid: deadPid(), host: hostname(), time: 1 }));
    const l = await tryLock(path);
    assert.ok(l);
    assert.equal(JSON.parse(await readFile(path, 'utf8')).pid, process.pid);
    await l.release();
  });

  it('an unreadable lock is respected while young, taken over when abandoned', async () => {
    await writeFile(path, '');
    assert.equal(await tryLock(path), null);
    const old = new Date(Date.now() - 60_000);
    await utimes(path, old, old);
    const l = await tryLock(path);
    assert.ok(l);
    await l.release();
  });

  it('waitLock waits for a release, and gives up after its bound', async () => {
    const a = (await tryLock(path))!;
    const t0 = Date.now();
    assert.equal(await waitLock(path, 200), null);
    assert.ok(Date.now() - t0 >= 200);
    setTimeout(() => void a.release(), 100);
    const b = await waitLock(path, 5000);
    assert.ok(b);
    await b.release();
  });
});
