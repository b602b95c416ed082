import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { deadHolder, parseProcStat, procInfo, tryLock, waitLock } from '../../../src/lib/lock.js';

/** The pid of a process that has already exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(String(r.stdout));
}

describe('lib/lock', () => {
  let dir: string;
  let path: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lfsb-lock-'));
    path = join(dir, 'x.lock');
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('tryLock is exclusive and writes pid, host and time, mode 0600', async () => {
    const a = await tryLock(path);
    assert.ok(a);
    const held = JSON.parse(await readFile(path, 'utf8'));
    assert.equal(held.pid, process.pid);
    assert.equal(held.host, hostname());
    assert.ok(Math.abs(held.time - Date.now()) < 10_000);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.equal(await tryLock(path), null, 'a second tryLock while held');
    await a.release();
    await a.release(); // idempotent
    const b = await tryLock(path);
    assert.ok(b, 'free again after release');
    await b.release();
  });

  it('many concurrent tryLocks: exactly one wins', async () => {
    const got = await Promise.all(Array.from({ length: 20 }, () => tryLock(path)));
    assert.equal(got.filter(Boolean).length, 1);
    await got.find(Boolean)?.release();
  });

  it('takes over a stale lock whose pid is dead', async () => {
    const pid = deadPid();
    await writeFile(path, JSON.stringify({ pid, host: hostname(), time: Date.now() - 60_000 }));
    const l = await tryLock(path);
    assert.ok(l, `stale lock of dead pid ${pid} not taken over`);
    assert.equal(JSON.parse(await readFile(path, 'utf8')).pid, process.pid);
    await l.release();
  });

  it('respects a live pid (this process) and another host', async () => {
    await writeFile(path, JSON.stringify({ pid: process.pid, host: hostname(), time: Date.now() }));
    assert.equal(await tryLock(path), null);
    await writeFile(path, JSON.stringify({ pid: deadPid(), host: 'some-other-host', time: Date.now() }));
    assert.equal(await tryLock(path), null, "a pid on another host can't be checked: respected");
  });

  it('treats an old unreadable lock file as stale', async () => {
    await writeFile(path, '{not json');
    const old = new Date(Date.now() - 60_000);
    await utimes(path, old, old);
    const l = await tryLock(path);
    assert.ok(l);
    await l.release();
  });

  it('does not steal a lock its holder has just created (empty between open and write)', async () => {
    // tryLock itself creates the file with O_EXCL and writes the pid afterwards: a competitor that reads it in
    // between sees an empty file. Taking it over then gives two holders of one lock.
    await writeFile(path, '');
    const l = await tryLock(path);
    await l?.release();
    assert.equal(l, null, 'a fresh empty lock file was taken over as stale');
  });

  it('waitLock gives up after its bound', async () => {
    const a = await tryLock(path);
    const t0 = Date.now();
    assert.equal(await waitLock(path, 200, 20), null);
    const ms = Date.now() - t0;
    assert.ok(ms >= 190, `waited ${ms} ms`); // (that it returned at all, with null, is the giving up)
    await a?.release();
  });

  it('waitLock gets the lock once it is released', async () => {
    const a = await tryLock(path);
    setTimeout(() => void a?.release(), 80);
    const b = await waitLock(path, 5_000, 20);
    assert.ok(b, 'had it waited its whole bound, it would have given up (null)');
    await b.release();
  });

  describe('holders that are dead although their pid answers (Linux)', () => {
    let parent: ChildProcess | undefined;
    afterEach(() => {
      parent?.kill('SIGKILL');
      parent = undefined;
    });

    /** A zombie: a child of a python3 parent that never reaps it. */
    async function zombie(): Promise<number> {
      parent = spawn('python3', [
        '-c',
        'import os, sys, time\npid = os.fork()\nif pid == 0: os._exit(0)\nprint(pid, flush=True)\ntime.sleep(60)',
      ]);
      const pid = await new Promise<number>((resolve) =>
        parent?.stdout?.once('data', (b) => resolve(Number(String(b)))),
      );
      for (let i = 0; i < 100 && procInfo(pid)?.state !== 'Z'; i++) await new Promise((r) => setTimeout(r, 10));
      return pid;
    }

    it('takes over a lock whose holder is a zombie (kill(pid, 0) still succeeds for it)', async () => {
      const pid = await zombie();
      assert.doesNotThrow(() => process.kill(pid, 0), 'a zombie answers signal 0');
      assert.equal(procInfo(pid)?.state, 'Z');
      await writeFile(path, JSON.stringify({ pid, host: hostname(), time: Date.now() }));
      const l = await tryLock(path);
      assert.ok(l, `the lock of zombie ${pid} was not taken over`);
      await l.release();
    });

    it('takes over a lock whose pid now belongs to another process (start time differs), not one that matches', async () => {
      const me = procInfo(process.pid);
      assert.ok(me?.start);
      await writeFile(
        path,
        JSON.stringify({ pid: process.pid, start: String(Number(me.start) - 1), host: hostname() }),
      );
      assert.match(deadHolder({ pid: process.pid, start: String(Number(me.start) - 1) }) ?? '', /reused/);
      const l = await tryLock(path);
      assert.ok(l, 'a reused pid was taken for the holder');
      assert.equal(JSON.parse(await readFile(path, 'utf8')).start, me.start, 'the new lock records its start time');
      await l.release();
      await writeFile(path, JSON.stringify({ pid: process.pid, start: me.start, host: hostname() }));
      assert.equal(await tryLock(path), null, 'the live holder with its own start time');
    });

    it('parses /proc/<pid>/stat with spaces and parentheses in the command name', () => {
      const fields = ['S', '1', ...Array.from({ length: 17 }, (_, i) => String(i + 100)), '424242', '77'];
      assert.deepEqual(parseProcStat(`123 (a) (b c)) ${fields.join(' ')}`), { state: 'S', start: '424242' });
      assert.deepEqual(parseProcStat(`9 (x) Z 1 ${fields.slice(2).join(' ')}`), { state: 'Z', start: '424242' });
      assert.equal(parseProcStat('garbage'), null);
    });
  });

  it('waitLock reports its wait and gives up once the holder makes no progress', async () => {
    const a = await tryLock(path);
    const lines: string[] = [];
    const t0 = Date.now();
    assert.equal(
      await waitLock(path, 60_000, 20, { log: (m) => lines.push(m), progress: async () => 'same', idleMs: 300 }),
      null,
    );
    assert.ok(Date.now() - t0 < 30_000, 'waited for its whole 60 s bound instead of stopping at no progress');
    assert.match(lines[0], new RegExp(`waiting for .*: held by live pid ${process.pid}`));
    assert.match(lines.at(-1) ?? '', /no progress/);
    await a?.release();
  });
});
