/**
 * Running commands for the end-to-end tests: argv only (no shell), stdout/stderr captured, the exit code and
 * signal returned rather than thrown.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository under test; the tests run its built CLI (npm run build). */
export const PROJECT = fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, '');

const BUILT = ['dist/bridge/main.js', 'dist/commands/setup.js', 'dist/commands/clone.js', 'dist/commands/status.js'];
const complete = (dir: string) => BUILT.every((f) => existsSync(join(dir, f)));

/**
 * A private copy of the built CLI (bin, dist, package.json, manifest; node_modules linked), taken when the suite
 * loads: a rebuild in the work tree during a run (rm -rf dist && tsc) must not break the tests half-way.
 * LFS_BRIDGE_E2E_IN_PLACE=1 runs the work tree's build directly.
 */
function cliDir(): string {
  if (!complete(PROJECT)) {
    // A build may be under way: give it a moment.
    for (let i = 0; i < 60 && !complete(PROJECT); i++)
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 500);
    if (!complete(PROJECT)) throw new Error(`${PROJECT}/dist is missing or incomplete: run npm run build first`);
  }
  if (process.env.LFS_BRIDGE_E2E_IN_PLACE === '1') return PROJECT;
  const dir = mkdtempSync(join(tmpdir(), 'lfs-bridge-e2e-cli-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  for (let attempt = 0; ; attempt++) {
    for (const f of ['bin', 'dist', 'package.json', 'oclif.manifest.json']) {
      rmSync(join(dir, f), { recursive: true, force: true });
      if (existsSync(join(PROJECT, f))) cpSync(join(PROJECT, f), join(dir, f), { recursive: true });
    }
    if (complete(dir)) break;
    if (attempt >= 10) throw new Error(`could not copy a complete build from ${PROJECT}/dist`);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
  }
  symlinkSync(join(PROJECT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

/** Where the CLI under test lives (see cliDir), and its entry point. */
export const CLI_DIR = cliDir();
export const BIN = `${CLI_DIR}/bin/run.js`;

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout then stderr, for "the output contains" checks. */
  output: string;
  ms: number;
}

export interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed. Without it stdin is closed at once. */
  input?: string;
  timeoutMs?: number;
  /** Called with the child right after spawn (to watch or kill its descendants). */
  onSpawn?: (child: ChildProcess) => void;
}

export function run(cmd: string, args: string[], o: RunOptions): Promise<RunResult> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: o.cwd, env: o.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {}); // the command may exit before reading its input
    child.on('error', reject);
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 110_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      resolve({ code, signal, stdout, stderr, output: `${stdout}\n${stderr}`, ms: Date.now() - t0 });
    });
    o.onSpawn?.(child);
    if (o.input !== undefined) child.stdin.end(o.input);
    else child.stdin.end();
  });
}

/** Describes a result for assertion messages. */
export function describeRun(what: string, r: RunResult): string {
  const clip = (s: string) => (s.length > 4000 ? `${s.slice(0, 2000)}\n...\n${s.slice(-2000)}` : s);
  return `${what} exited ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${clip(r.stdout)}\n--- stderr\n${clip(r.stderr)}`;
}

/** Runs and throws (with the output) unless the exit code is 0. */
export async function runOk(cmd: string, args: string[], o: RunOptions): Promise<RunResult> {
  const r = await run(cmd, args, o);
  if (r.code !== 0) throw new Error(describeRun(`${cmd} ${args.join(' ')} (in ${o.cwd})`, r));
  return r;
}
