/**
 * Per-object locks as O_EXCL files holding pid and time (DESIGN.md: locks). A lock whose pid is gone is stale
 * and taken over; a live one is waited on with a bound, never forever.
 */

import { randomBytes } from 'node:crypto';
import { link, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
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

/** A lock file whose content we cannot read is stale only once it is this old (its writer may still be linking). */
const UNREADABLE_GRACE_MS = 5_000;

/** Takes the lock at `path` now, or returns null when a live process holds it. */
export async function tryLock(path: string): Promise<Lock | null> {
  for (let round = 0; round < 3; round++) {
    // Written under a private name, then hard-linked into place: the lock is never seen empty, and link()
    // fails with EEXIST atomically when another process holds it.
    const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    await writeFile(tmp, JSON.stringify({ pid: process.pid, host: hostname(), time: Date.now() }), { mode: 0o600 });
    try {
      await link(tmp, path);
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
      let holder: { pid?: number; host?: string } | null = null;
      try {
        holder = JSON.parse(await readFile(path, 'utf8'));
      } catch {
        // unreadable (vanished meanwhile, or written by something else): judged by age below
      }
      if (holder?.pid) {
        const sameHost = !holder.host || holder.host === hostname();
        if (!sameHost || alive(holder.pid)) return null;
      } else {
        const age = await stat(path).then(
          (st) => Date.now() - st.mtimeMs,
          () => Number.POSITIVE_INFINITY,
        );
        if (age < UNREADABLE_GRACE_MS) return null;
      }
      // Stale: its owner is gone. Rename-then-remove, so that of two processes seeing it stale only one removes it.
      const grave = `${path}.stale.${process.pid}`;
      await rename(path, grave).then(
        () => rm(grave, { force: true }),
        () => {},
      );
    } finally {
      await rm(tmp, { force: true });
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
