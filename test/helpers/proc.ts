/**
 * Finding the agent processes a test started (Linux /proc): only descendants of a child we spawned, so
 * parallel work on the machine is never touched. git-lfs runs the agent as `sh -c "'<node>' <args>"`; the
 * process to kill is node (its cmdline holds bin/run.js transfer), not sh.
 */
import type { ChildProcess } from 'node:child_process';
import { readdir, readFile, readlink } from 'node:fs/promises';

export interface Proc {
  pid: number;
  ppid: number;
  args: string[];
}

async function readProc(pid: number): Promise<Proc | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const args = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
    return { pid, ppid, args };
  } catch {
    return null; // gone meanwhile
  }
}

/** Every live descendant of `root`. */
export async function descendants(root: number): Promise<Proc[]> {
  const all: Proc[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = await readProc(Number(name));
    if (p) all.push(p);
  }
  const out: Proc[] = [];
  const parents = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid);
        out.push(p);
        grew = true;
      }
    }
  }
  return out;
}

export const isAgent = (p: Proc) => p.args.some((a) => a.endsWith('bin/run.js')) && p.args.includes('transfer');

/** Paths the process has open. */
export async function openFiles(pid: number): Promise<string[]> {
  const out: string[] = [];
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [] as string[])) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (target) out.push(target);
  }
  return out;
}

/** The agent (node) process below `root` that has a file open whose path satisfies `match`. */
export async function agentWithOpenFile(root: number, match: (path: string) => boolean): Promise<Proc | null> {
  for (const p of await descendants(root)) {
    if (!isAgent(p)) continue;
    if ((await openFiles(p.pid)).some(match)) return p;
  }
  return null;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every `everyMs` until it returns a value, or throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | null | undefined | false>,
  timeoutMs = 30_000,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * For `sb.git(…, { onSpawn })`: kills every lfs-bridge agent under the spawned command with SIGKILL once `when()`
 * is true (polled every 50 ms); `killed()` says whether it happened.
 */
export function killAgentsWhen(when: () => boolean) {
  let killed = false;
  return {
    killed: () => killed,
    onSpawn: (child: ChildProcess) => {
      void (async () => {
        while (!killed && child.exitCode === null) {
          await sleep(50);
          if (!when()) continue;
          for (const p of (await descendants(child.pid as number)).filter(isAgent)) {
            process.kill(p.pid, 'SIGKILL');
            killed = true;
          }
        }
      })();
    },
  };
}
