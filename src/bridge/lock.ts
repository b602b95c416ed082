/**
 * Per-object locks as O_EXCL files holding pid and time (DESIGN.md: locks). A lock whose pid is gone is stale
 * and taken over; a live one is waited on with a bound, never forever.
 */

import { open, readFile, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { sleep } from './retry.js';

export interface Lock {
  release(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock at `path` now, or returns null when a live process holds it. */
export async function tryLock(path: string): Promise<Lock | null> {
  for (let round = 0; round < 3; round++) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(JSON.stringify({ pid: process.pid, host: hostname(), time: Date.now() }));
      await fh.close();
      let released = false;
      return {
        release: async () => {
          if (released) return;
          released = true;
          await rm(path, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let holder: { pid?: number; host?: string } = {};
      try {
        holder = JSON.parse(await readFile(path, 'utf8'));
      } catch {
        // half-written by a process that died between open and write: treat as stale below
      }
      const sameHost = !holder.host || holder.host === hostname();
      if (holder.pid && (!sameHost || alive(holder.pid))) return null;
      await rm(path, { force: true }); // stale: its owner is gone
    }
  }
  return null;
}

/** Waits up to `maxWaitMs` for the lock; null if it is still held then. */
export async function waitLock(path: string, maxWaitMs: number, pollMs = 100): Promise<Lock | null> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const lock = await tryLock(path);
    if (lock || Date.now() >= deadline) return lock;
    await sleep(pollMs);
  }
}
