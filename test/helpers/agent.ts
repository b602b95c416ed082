/**
 * Runs `node bin/run.js transfer` directly, the way git-lfs would, with scripted stdin, and keeps its raw stdout
 * (byte-exact: the trace trims lines, so the LDJSON-only checks need the real bytes).
 */
import { spawn } from 'node:child_process';
import { BIN } from './run.js';

export interface AgentRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Raw stdout, exactly as written. */
  stdout: string;
  stderr: string;
  /** stdout split on \n, without the empty piece after the final newline. */
  lines: string[];
}

export interface AgentOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Close stdin after the script (EOF); true by default. */
  end?: boolean;
  timeoutMs?: number;
}

/** Writes `script` (one message per element, each followed by \n) to the agent's stdin and collects its output. */
export function runTransfer(script: string[], o: AgentOptions): Promise<AgentRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, 'transfer'], { cwd: o.cwd, env: o.env, stdio: 'pipe' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {});
    child.on('error', reject);
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const lines = stdout.split('\n');
      if (lines.at(-1) === '') lines.pop();
      resolve({ code, signal, stdout, stderr: Buffer.concat(err).toString('utf8'), lines });
    });
    child.stdin.write(script.map((l) => `${l}\n`).join(''));
    if (o.end !== false) child.stdin.end();
  });
}

export const msg = (m: Record<string, unknown>) => JSON.stringify(m);
