/**
 * Cross-process locks — per-object upload/download locks and the token-refresh lock: a file
 * holding pid, host and time. A lock whose pid is gone is stale and taken over; a live one is waited on with a
 * bound, never forever. The two races of a plain `open('wx')` + write are closed:
 * - the file appears complete: it is written under a private name and hard-linked into place (link(2) fails with
 *   EEXIST like O_EXCL), so a waiter never reads a half-written lock and mistakes it for a stale one;
 * - a stale lock (its pid gone) is removed only by the holder of a short-lived guard file, after re-reading it,
 *   so two waiters cannot both remove it and both take the lock.
 * See docs/architecture.md "Locks".
 */
import { randomBytes } from 'node:crypto';
import { link, open, readFile, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { sleep } from './retry.js';

export interface Lock {
  release(): Promise<void>;
}

/** A guard or an unreadable lock older than this belongs to a process that died mid-way. */
const ABANDONED_MS = 10_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Creates `path` with `content` atomically; false if it exists. */
async function createComplete(path: string, content: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fh = await open(tmp, 'wx', 0o600);
  try {
    await fh.writeFile(content);
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    await rm(tmp, { force: true });
  }
}

const holderText = () => JSON.stringify({ pid: process.pid, host: hostname(), time: Date.now() });

/** The lock's content when its holder is gone (stale), else null (held, or already gone). */
async function staleContent(path: string): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return null;
  }
  try {
    const h = JSON.parse(text) as { pid?: number; host?: string };
    if (typeof h.pid !== 'number') throw new Error('no pid');
    if (h.host && h.host !== hostname()) return null; // another machine's process: cannot tell, wait it out
    return alive(h.pid) ? null : text;
  } catch {
    // unreadable: only a crash between writing and linking could leave it; judge by age
    const st = await stat(path).catch(() => null);
    return st && Date.now() - st.mtimeMs > ABANDONED_MS ? text : null;
  }
}

/** Removes the lock at `path` if it is still the stale `content`, holding the guard while doing it. */
async function removeStale(path: string, content: string): Promise<void> {
  const guard = `${path}.stale`;
  if (!(await createComplete(guard, holderText()))) {
    const st = await stat(guard).catch(() => null);
    if (st && Date.now() - st.mtimeMs > ABANDONED_MS) await rm(guard, { force: true });
    return;
  }
  try {
    const now = await readFile(path, 'utf8').catch(() => null);
    if (now === content) await rm(path, { force: true });
  } finally {
    await rm(guard, { force: true });
  }
}

/** Takes the lock at `path` now, or returns null when a live process holds it. */
export async function tryLock(path: string): Promise<Lock | null> {
  for (let round = 0; round < 3; round++) {
    if (await createComplete(path, holderText())) {
      let released = false;
      return {
        release: async () => {
          if (released) return;
          released = true;
          await rm(path, { force: true });
        },
      };
    }
    const stale = await staleContent(path);
    if (stale === null) return null;
    await removeStale(path, stale);
  }
  return null;
}

/** Waits up to `maxWaitMs` for the lock; null if it is still held then. */
export async function waitLock(path: string, maxWaitMs: number, pollMs = 50): Promise<Lock | null> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const lock = await tryLock(path);
    if (lock || Date.now() >= deadline) return lock;
    await sleep(pollMs + Math.random() * pollMs);
  }
}
