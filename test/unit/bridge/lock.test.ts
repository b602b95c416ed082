import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { tryLock, waitLock } from '../../../src/bridge/lock.js';

/** The pid of a process that has already exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  return Number(String(r.stdout));
}

describe('bridge/lock', () => {
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
    assert.ok(ms >= 190 && ms < 1_500, `waited ${ms} ms`);
    await a?.release();
  });

  it('waitLock gets the lock once it is released', async () => {
    const a = await tryLock(path);
    setTimeout(() => void a?.release(), 80);
    const t0 = Date.now();
    const b = await waitLock(path, 5_000, 20);
    assert.ok(b);
    assert.ok(Date.now() - t0 < 1_000);
    await b.release();
  });
});
