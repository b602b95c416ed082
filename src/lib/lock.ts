/**
 * Cross-process locks — per-object upload/download locks and the token-refresh lock: a file
 * holding pid, the process's start time, host and time. A lock whose holder is dead is stale and taken over; a
 * live one is waited on with a bound, never forever. Dead means: the pid is gone, is a zombie (killed with its
 * parent and not yet reaped — a container init may never reap it), or belongs to another process now (its start
 * time differs: the pid was reused). The start time comes from /proc on Linux, `ps -o lstart=` elsewhere on Unix;
 * where neither answers (Windows) the pid alone decides. The two races of a plain `open('wx')` + write are closed:
 * - the file appears complete: it is written under a private name and hard-linked into place (link(2) fails with
 *   EEXIST like O_EXCL), so a waiter never reads a half-written lock and mistakes it for a stale one;
 * - a stale lock (its pid gone) is removed only by the holder of a short-lived guard file, after re-reading it,
 *   so two waiters cannot both remove it and both take the lock.
 * See docs/architecture.md "Locks".
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, open, readFile, rm, stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { sleep } from './sleep.js';

export interface Lock {
  release(): Promise<void>;
}

/** What a lock file records of its holder. */
export interface Holder {
  pid: number;
  /** The holder's start time (an opaque token: compared, never interpreted); absent where it cannot be read. */
  start?: string;
  host?: string;
  time?: number;
}

/** A guard or an unreadable lock older than this belongs to a process that died mid-way. */
const ABANDONED_MS = 10_000;

/** A process as the OS shows it now: its state letter and start time, or null when there is no such pid. */
export interface ProcInfo {
  state: string;
  start: string;
}

/**
 * Parses /proc/<pid>/stat: "pid (comm) state ppid …". comm may hold spaces and parentheses, so the fields are
 * counted from the last ')'; the start time is field 22 (clock ticks after boot).
 */
export function parseProcStat(text: string): ProcInfo | null {
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const fields = text.slice(close + 2).split(' '); // fields[0] is field 3 (state)
  const start = fields[22 - 3];
  if (!fields[0] || !start || !/^\d+$/.test(start)) return null;
  return { state: fields[0], start };
}

/** The process `pid` now; null when gone; undefined when this platform cannot tell (then the pid alone decides). */
export function procInfo(pid: number): ProcInfo | null | undefined {
  if (process.platform === 'linux') {
    try {
      return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch (e) {
      // ENOENT: gone — unless /proc hides other users' processes (hidepid), which kill(0) below tells apart.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
      return pidExists(pid) ? undefined : null;
    }
  }
  if (process.platform === 'win32') return undefined;
  try {
    // macOS and the BSDs: the state letters (Z for a zombie) and the start time to the second.
    const out = execFileSync('ps', ['-o', 'stat=', '-o', 'lstart=', '-p', String(pid)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, LC_ALL: 'C' },
    }).trim();
    const m = /^(\S+)\s+(.+)$/.exec(out);
    return m ? { state: m[1][0], start: m[2] } : undefined;
  } catch (e) {
    // ps exits 1 for a pid it does not know; a missing ps tells nothing.
    return (e as { status?: number }).status === 1 ? null : undefined;
  }
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let ownStart: string | undefined | null = null;
/** This process's start time, read once. */
function myStart(): string | undefined {
  if (ownStart === null) ownStart = procInfo(process.pid)?.start;
  return ownStart;
}

/** Why the recorded holder is dead, or null while it lives. */
export function deadHolder(h: Holder): string | null {
  const now = procInfo(h.pid);
  if (now === null) return `pid ${h.pid} is gone`;
  if (now === undefined) return pidExists(h.pid) ? null : `pid ${h.pid} is gone`;
  if (now.state === 'Z' || now.state === 'X') return `pid ${h.pid} is a zombie`;
  if (h.start !== undefined && h.start !== now.start) return `pid ${h.pid} is another process now (reused)`;
  return null;
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

const holderText = () =>
  JSON.stringify({ pid: process.pid, start: myStart(), host: hostname(), time: Date.now() } satisfies Holder);

/** The holder recorded in the lock at `path`; null when there is none or it cannot be read. */
export async function readHolder(path: string): Promise<Holder | null> {
  try {
    const h = JSON.parse(await readFile(path, 'utf8')) as Holder;
    return typeof h.pid === 'number' ? h : null;
  } catch {
    return null;
  }
}

/** The lock's content and why it is stale when its holder is dead, else null (held, or already gone). */
async function staleContent(path: string): Promise<{ text: string; why: string } | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return null;
  }
  try {
    const h = JSON.parse(text) as Holder;
    if (typeof h.pid !== 'number') throw new Error('no pid');
    if (h.host && h.host !== hostname()) return null; // another machine's process: cannot tell, wait it out
    const why = deadHolder(h);
    return why ? { text, why } : null;
  } catch {
    // unreadable: only a crash between writing and linking could leave it; judge by age
    const st = await stat(path).catch(() => null);
    return st && Date.now() - st.mtimeMs > ABANDONED_MS ? { text, why: 'unreadable and old' } : null;
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

/** Takes the lock at `path` now, or returns null when a live process holds it. `log` hears of a takeover. */
export async function tryLock(path: string, log?: (msg: string) => void): Promise<Lock | null> {
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
    log?.(`taking over ${path}: ${stale.why}`);
    await removeStale(path, stale.text);
  }
  return null;
}

export interface WaitOptions {
  pollMs?: number;
  /** Where the wait is reported (at its start, then every few seconds): LFS_BRIDGE_DEBUG shows it. */
  log?: (msg: string) => void;
  /**
   * What the holder's progress looks like now (e.g. its partial's size): the wait ends early, without the lock, once
   * this has not changed for `idleMs`. A holder that works is waited for; one that is stuck is not.
   */
  progress?: () => Promise<string>;
  idleMs?: number;
}

const REPORT_EVERY_MS = 5_000;

/** Waits up to `maxWaitMs` for the lock; null if it is still held then (or its holder stopped making progress). */
export async function waitLock(
  path: string,
  maxWaitMs: number,
  pollMs = 50,
  o: WaitOptions = {},
): Promise<Lock | null> {
  const t0 = Date.now();
  const deadline = t0 + maxWaitMs;
  let reported = 0;
  let seen: string | undefined;
  let movedAt = t0;
  for (;;) {
    const lock = await tryLock(path, o.log);
    if (lock) {
      if (reported) o.log?.(`took ${path} after waiting ${Date.now() - t0} ms`);
      return lock;
    }
    const now = Date.now();
    if (o.progress) {
      const p = await o.progress().catch(() => '');
      if (p !== seen) {
        seen = p;
        movedAt = now;
      } else if (now - movedAt >= (o.idleMs ?? 30_000)) {
        o.log?.(`gave up waiting for ${path}: its holder made no progress for ${now - movedAt} ms`);
        return null;
      }
    }
    if (now >= deadline) {
      o.log?.(`gave up waiting for ${path} after ${now - t0} ms`);
      return null;
    }
    if (o.log && now - reported >= REPORT_EVERY_MS) {
      const h = await readHolder(path);
      o.log(
        `waiting for ${path}: held by live pid ${h?.pid ?? '?'}${h?.host ? ` on ${h.host}` : ''} (${now - t0} ms so far)`,
      );
      reported = now;
    }
    await sleep(pollMs + Math.random() * pollMs);
  }
}
