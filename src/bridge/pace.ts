/**
 * One pace per provider account, shared by every agent process of this user (git-lfs runs up to 8 at once).
 * When one process is told to slow down (429, Retry-After, Dropbox `too_many_write_operations`) all of them hold
 * back until that time, instead of each finding out by hammering on; where a provider publishes a request budget
 * (requests per second per client), every process takes its requests from one shared budget.
 *
 * Lock-free on purpose, so that it costs nearly nothing when nobody is throttled: the state is a folder whose
 * entry NAMES are the data.
 * - `hold-<ms>`: nobody sends before <ms> (epoch). Holding = creating an entry; the effective hold is the largest
 *   name, so two processes holding at once never lose either hold (no read-modify-write).
 * - `slot-<n>`: request n of the budget, due at n/rate seconds. A process claims the next free slot with an
 *   exclusive create (EEXIST: taken by another process, try the next one), then sleeps until it is due.
 * Old entries are removed by whoever passes by. The fast path (no budget, nothing held) is one stat of the folder.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdir, open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep as realSleep, type SleepFn } from '../lib/sleep.js';
import type { Logger } from '../log.js';

export interface Pace {
  /** Resolves when this process may send its next request. */
  ready(signal?: AbortSignal): Promise<void>;
  /** Nobody (any process of this account) sends for `ms` from now. */
  hold(ms: number, why: string): Promise<void>;
}

export interface PaceOptions {
  /** The provider's published request budget for one client, shared by all processes; none when undefined. */
  requestsPerSecond?: number;
  log?: Logger;
  now?: () => number;
  sleep?: SleepFn;
}

/** Entries this much in the past are removed: a hold is over, a slot was used. */
const KEEP_PAST_MS = 10_000;

/** The pace folder of one account: `<dir>/<provider>-<hash of the account>`. */
export function paceDir(dir: string, provider: string, account: string): string {
  return join(dir, `${provider}-${createHash('sha256').update(account).digest('hex').slice(0, 16)}`);
}

export function sharedPace(folder: string, o: PaceOptions = {}): Pace {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? realSleep;
  const rate = o.requestsPerSecond && o.requestsPerSecond > 0 ? o.requestsPerSecond : undefined;
  /** The folder's mtime when it was last read, the hold found then, and when that read began. */
  let seen = { mtimeMs: -1, holdUntil: 0, readAt: 0 };
  let logged = 0;

  async function names(): Promise<string[]> {
    try {
      return await readdir(folder);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }

  const numbers = (list: string[], prefix: string) =>
    list.filter((n) => n.startsWith(prefix)).map((n) => Number(n.slice(prefix.length)));

  /** Removes entries whose time has long passed (best effort: another process may remove them first). */
  async function prune(list: string[]): Promise<void> {
    const old = now() - KEEP_PAST_MS;
    const stale = list.filter((n) => {
      const [kind, value] = n.split('-');
      const t = kind === 'hold' ? Number(value) : kind === 'slot' && rate ? (Number(value) * 1000) / rate : NaN;
      return t < old;
    });
    await Promise.all(stale.map((n) => rm(join(folder, n), { force: true }).catch(() => {})));
  }

  /** The hold in force (epoch ms; 0 when none), re-reading the folder only when it changed. */
  async function holdUntil(): Promise<number> {
    let mtimeMs: number;
    try {
      mtimeMs = statSync(folder).mtimeMs;
    } catch {
      return 0; // nobody ever held or budgeted this account
    }
    // File times are coarse (a kernel tick): a change made in the same tick as our read would leave the mtime as
    // it was. So the cache is trusted only when the folder had already been still for a while when it was read.
    if (mtimeMs === seen.mtimeMs && seen.readAt - mtimeMs > 50) return seen.holdUntil;
    const readAt = Date.now();
    const list = await names();
    const until = Math.max(0, ...numbers(list, 'hold-').filter(Number.isFinite));
    seen = { mtimeMs, holdUntil: until, readAt };
    if (list.length > 64) await prune(list);
    return until;
  }

  async function claimSlot(): Promise<number> {
    const r = rate as number;
    await mkdir(folder, { recursive: true });
    const list = await names();
    const taken = numbers(list, 'slot-').filter(Number.isFinite);
    let n = Math.max(Math.ceil((now() * r) / 1000), taken.length ? Math.max(...taken) + 1 : 0);
    for (;;) {
      try {
        await (await open(join(folder, `slot-${n}`), 'wx')).close();
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        n++;
      }
    }
    if (list.length > 64) await prune(list);
    return (n * 1000) / r;
  }

  /** The pace is advice: a folder that cannot be read or written never fails a transfer. */
  const quietly = async <T>(f: () => Promise<T>, fallback: T): Promise<T> => {
    try {
      return await f();
    } catch (e) {
      o.log?.debug(`shared pace unavailable (${folder}): ${(e as Error).message}`);
      return fallback;
    }
  };

  return {
    async ready(signal) {
      for (;;) {
        const until = await quietly(holdUntil, 0);
        const wait = until - now();
        if (wait <= 0) break;
        if (now() - logged > 1000) {
          logged = now();
          o.log?.debug(`waiting ${wait} ms: the provider asked this account to slow down (shared by every agent)`);
        }
        await sleep(wait, signal);
      }
      if (rate) {
        const due = await quietly(claimSlot, 0);
        const wait = due - now();
        if (wait > 0) await sleep(wait, signal);
      }
    },
    async hold(ms, why) {
      if (!(ms > 0)) return;
      const until = Math.ceil(now() + ms);
      await quietly(async () => {
        await mkdir(folder, { recursive: true });
        await open(join(folder, `hold-${until}`), 'wx').then(
          (fh) => fh.close(),
          (e: NodeJS.ErrnoException) => {
            if (e.code !== 'EEXIST') throw e; // EEXIST: this very hold is already there
          },
        );
      }, undefined);
      o.log?.debug(`holding every agent of this account for ${ms} ms: ${why}`);
    },
  };
}
