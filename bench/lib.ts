/**
 * The benchmark harness: cases, rows, timing, child processes, test data and the results table. Knows nothing
 * about git-lfs or providers; `local.ts` (and later provider files) define the cases.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import {
  closeSync,
  cpSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** The repository the bench runs from (bin/run.js, dist/, BENCHMARKS.md). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface BenchOptions {
  /** Smaller sizes, for a fast check. */
  quick: boolean;
  /** Timed pairs run this many times, interleaved; the median counts. */
  rounds: number;
}

/** One line of the results table. `pass` is null for rows that only inform (no target). */
export interface Row {
  name: string;
  ours: string;
  baseline: string;
  /** Already formatted, e.g. "0.91x". */
  ratio: string;
  target: string;
  pass: boolean | null;
}

export interface BenchCase {
  /** Short id for --only, e.g. "push-big". */
  id: string;
  run(ctx: BenchContext): Promise<Row[]>;
}

/** A set of cases with its own section in BENCHMARKS.md (e.g. "local"; later one per provider). */
export interface BenchGroup {
  id: string;
  title: string;
  /** Markdown put above the table: what is compared with what. */
  about: string;
  cases: BenchCase[];
}

/** What a case gets: options, a private temp workspace, a shared data cache and a log on stderr. */
export interface BenchContext {
  opts: BenchOptions;
  /** Temp folder for this run, removed at the end (also on failure and Ctrl-C). */
  work: string;
  /** The frozen copy of the built CLI under test: `<app>/bin/run.js` (see snapshotApp). */
  app: string;
  log(msg: string): void;
  /** Process-wide memo: fixtures shared by several cases (repos, generated data) are built once. */
  memo<T>(key: string, make: () => Promise<T>): Promise<T>;
}

// ---------------------------------------------------------------- statistics and formatting

export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 1 : 0)} ms`);
export const fmtRate = (bytes: number, ms: number) => `${(bytes / MiB / (ms / 1000)).toFixed(0)} MiB/s`;
export const fmtMB = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
export const fmtRatio = (r: number) => (Number.isFinite(r) ? `${r.toFixed(2)}x` : '-');
export function fmtSize(bytes: number): string {
  for (const [unit, n] of [
    ['GiB', GiB],
    ['MiB', MiB],
    ['KiB', KiB],
  ] as const) {
    if (bytes >= n) return `${+(bytes / n).toFixed(2)} ${unit}`;
  }
  return `${bytes} B`;
}

/** A markdown table with padded columns: readable on a terminal and in BENCHMARKS.md alike. */
export function renderTable(rows: Row[]): string {
  const head = ['case', 'ours', 'baseline', 'ratio', 'target', ''];
  const cells = rows.map((r) => [
    r.name,
    r.ours,
    r.baseline,
    r.ratio,
    r.target,
    r.pass === null ? 'info' : r.pass ? 'PASS' : 'MISS',
  ]);
  const width = head.map((h, i) => Math.max(h.length, 4, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((s, i) => s.padEnd(width[i])).join(' | ')} |`;
  const rule = `|${width.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(head), rule, ...cells.map(line)].join('\n');
}

// ---------------------------------------------------------------- child processes

const children = new Set<ChildProcess>();

/** Spawns and remembers the child, so an interrupted bench can end exactly the processes it started. */
export function spawnTracked(cmd: string, args: string[], o: SpawnOptions): ChildProcess {
  const child = spawn(cmd, args, o);
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

export function killChildren(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  }
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on every Linux build in practice). */
const TICK_MS = 10;

/**
 * CPU time (user + system, ms) of all waited-for descendants so far: git waits for git-lfs, which waits for its
 * agents, so the delta across one `run` is the whole process tree's CPU. Far less noisy than wall time on a
 * shared machine. Linux only; 0 elsewhere.
 */
export function childrenCpuMs(): number {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    return (Number(f[13]) + Number(f[14])) * TICK_MS; // fields 16, 17: cutime, cstime
  } catch {
    return 0;
  }
}

export interface RunResult {
  ms: number;
  /** CPU of the whole process tree (see childrenCpuMs). */
  cpuMs: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end and times it (spawn to exit). Throws with stderr's tail unless it exits 0. */
export async function run(
  cmd: string,
  args: string[],
  o: { cwd?: string; env?: NodeJS.ProcessEnv; allowFail?: boolean } = {},
): Promise<RunResult> {
  const cpu0 = childrenCpuMs();
  const t0 = performance.now();
  const child = spawnTracked(cmd, args, { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-8000);
  });
  const code = await new Promise<number | null>((res, rej) => {
    child.on('error', rej);
    child.on('close', (c) => res(c));
  });
  const ms = performance.now() - t0;
  const cpuMs = childrenCpuMs() - cpu0;
  if (code !== 0 && !o.allowFail) {
    throw new Error(`${cmd} ${args.join(' ')} (in ${o.cwd ?? '.'}) exited ${code}: ${stderr.trim().slice(-1500)}`);
  }
  return { ms, cpuMs, code, stdout, stderr };
}

/** Flushes dirty pages before a timed run, so one contender's writeback is not billed to the next. */
export async function syncDisks(): Promise<void> {
  await run('sync', []);
}

/**
 * sync, then drop the clean page cache (root only; false when it could not): on this VM, writes into a page
 * cache full of earlier runs' gigabytes took up to 3x the system time, so whichever contender followed a big
 * write looked slow. Dropped before every timed download, each starts from the same state.
 */
export async function dropCaches(warm: string[] = []): Promise<boolean> {
  await syncDisks();
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '1');
  } catch {
    return false;
  }
  // Programs come back from the disk once, here, not inside a timed run.
  const read = (path: string) => {
    const st = statSync(path, { throwIfNoEntry: false });
    if (st?.isDirectory()) for (const e of readdirSync(path)) read(join(path, e));
    else if (st?.isFile()) readFileSync(path);
  };
  for (const p of warm) read(p);
  return true;
}

// ---------------------------------------------------------------- workspace and data

/** A fresh temp folder; `cleanup` removes it (synchronously, so it also works from a signal handler). */
export function makeWorkspace(prefix = 'lfs-bridge-bench-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join('/tmp', prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/**
 * Copies the built CLI (bin/, dist/, package.json, oclif.manifest.json; node_modules linked) into `dir`, so a
 * rebuild by someone else during the run (`npm run build` starts with rm -rf dist) cannot break or change what
 * is measured. `lfs-bridge setup` run from the copy registers the copy's bin/run.js with git-lfs.
 */
export function snapshotApp(dir: string): string {
  for (const need of ['dist/bridge/main.js', 'dist/commands/setup.js', 'oclif.manifest.json']) {
    if (!existsSync(join(REPO, need))) throw new Error(`${need} is missing: run npm run build (or pass --build)`);
  }
  for (const item of ['bin', 'dist', 'package.json', 'oclif.manifest.json']) {
    cpSync(join(REPO, item), join(dir, item), { recursive: true });
  }
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

export interface DataFile {
  path: string;
  oid: string;
  size: number;
}

/**
 * Writes `size` random bytes (8 MiB pieces from the CSPRNG: no sparse or repeated blocks a filesystem or copy
 * could special-case) and returns their SHA-256. About 1 s per GiB here.
 */
export function writeRandomFile(path: string, size: number): DataFile {
  const piece = Buffer.allocUnsafe(8 * MiB);
  const sha = createHash('sha256');
  const fd = openSync(path, 'w');
  try {
    for (let done = 0; done < size; ) {
      const n = Math.min(piece.length, size - done);
      const buf = piece.subarray(0, n);
      randomFillSync(buf);
      sha.update(buf);
      for (let off = 0; off < n; ) off += writeSync(fd, buf, off, n - off);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return { path, oid: sha.digest('hex'), size };
}

/** The git-lfs pointer file for an object. */
export const pointer = (oid: string, size: number) =>
  `version https://git-lfs.github.com/spec/v1\noid sha256:${oid}\nsize ${size}\n`;
