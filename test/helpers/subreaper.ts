/**
 * Killing a whole process tree the way a closed terminal, a CI timeout or a container stop does, with the dead
 * kept as zombies (Linux): the command runs under a small python3 child subreaper (prctl PR_SET_CHILD_SUBREAPER)
 * that reaps its direct child only, so every orphan killed below it stays a zombie — as under a container init
 * that does not reap — until `finish()` lets the subreaper reap them all and exit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { descendants, sleep } from './proc.js';

const SCRIPT = `
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.exit('prctl(PR_SET_CHILD_SUBREAPER) failed')
pid = os.fork()
if pid == 0:
    os.close(3)
    os.execvp(sys.argv[1], sys.argv[1:])
_, status = os.waitpid(pid, 0)  # the direct child only: adopted orphans stay zombies
os.write(3, ('%d\\n' % status).encode())
sys.stdin.read()  # until finish(): then reap everything and go
while True:
    try:
        os.waitpid(-1, 0)
    except ChildProcessError:
        break
`;

export interface Subreaped {
  /** The subreaper's pid: the root of the tree. */
  pid: number;
  /** Settles with the command's wait status once the subreaper has reaped it. */
  exited: Promise<number>;
  output(): string;
  /** Reaps the zombies and ends the subreaper. */
  finish(): Promise<void>;
}

export function runSubreaped(cmd: string, args: string[], o: { cwd: string; env: NodeJS.ProcessEnv }): Subreaped {
  const child: ChildProcess = spawn('python3', ['-c', SCRIPT, cmd, ...args], {
    cwd: o.cwd,
    env: o.env,
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  child.stdout?.on('data', (b: Buffer) => out.push(b));
  child.stderr?.on('data', (b: Buffer) => out.push(b));
  const closed = new Promise<void>((r) => child.on('close', () => r()));
  const exited = new Promise<number>((resolve, reject) => {
    let text = '';
    const status = child.stdio[3] as NodeJS.ReadableStream;
    status.on('data', (b: Buffer) => {
      text += b.toString();
      if (text.endsWith('\n')) resolve(Number(text.trim()));
    });
    child.on('close', () => reject(new Error(`subreaper ended first: ${Buffer.concat(out)}`)));
  });
  exited.catch(() => {});
  return {
    pid: child.pid as number,
    exited,
    output: () => Buffer.concat(out).toString(),
    finish: async () => {
      child.stdin?.end();
      await closed;
    },
  };
}

/** The state letter of a process (R, S, Z, …), or null when it is gone (reaped). */
export async function procState(pid: number): Promise<string | null> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return null;
  }
}

/**
 * SIGKILLs every process below `root` (not `root` itself) as if all at once; returns how many died. They are all
 * stopped first, so that no parent can reap a child killed before itself: every one of them dies unreaped.
 */
export async function killTree(root: number): Promise<number> {
  const signal = (pid: number, sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
      return true;
    } catch {
      return false; // gone meanwhile
    }
  };
  const below = async (skip: (state: string | null) => boolean) => {
    const out: number[] = [];
    for (const p of await descendants(root)) if (!skip(await procState(p.pid))) out.push(p.pid);
    return out;
  };
  for (let round = 0; ; round++) {
    const running = await below((st) => st === null || st === 'Z' || st === 'T');
    if (running.length === 0) break;
    if (round >= 50) throw new Error(`processes below ${root} would not stop`);
    for (const pid of running) signal(pid, 'SIGSTOP');
    await sleep(20);
  }
  let killed = 0;
  for (let round = 0; ; round++) {
    const live = await below((st) => st === null || st === 'Z');
    if (live.length === 0) return killed;
    if (round >= 50) throw new Error(`processes below ${root} kept living`);
    for (const pid of live) if (signal(pid, 'SIGKILL')) killed++;
    await sleep(20);
  }
}
