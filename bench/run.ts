/**
 * `npm run bench [-- options]`: runs the benchmark groups, prints one table of ratios against baselines measured
 * in the same run, and records it in BENCHMARKS.md. Not a test, but it can fail: `--strict` exits 1 when a
 * target is missed. A case that cannot run at all exits 2 whatever the flags.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dropboxBench } from './dropbox.js';
import {
  type BenchContext,
  type BenchGroup,
  type BenchOptions,
  killChildren,
  makeWorkspace,
  REPO,
  type Row,
  renderTable,
  snapshotApp,
} from './lib.js';
import { localBench } from './local.js';

/** Every group, in run order. A provider benchmark adds its group here. */
const GROUPS: BenchGroup[] = [localBench, dropboxBench];

const HELP = `usage: npm run bench [-- options]
  --quick          smaller sizes (local: 256 MiB push/pull, 256 MiB and 1 GiB for RSS, 200 small objects;
                   dropbox: 256 MiB push/pull, 64 and 256 MiB for RSS, 64 MiB at 5 MiB/s throttled)
  --strict         exit 1 when a target is missed
  --rounds N       rounds per timed pair (default 5, 3 with --quick; the median counts)
  --only a,b       run these cases only (${GROUPS.flatMap((g) => g.cases.map((c) => c.id)).join(', ')})
  --write          record the table in BENCHMARKS.md (default: only for a full run without --quick/--only)
  --no-write       never touch BENCHMARKS.md
  --keep           keep the temp folder
  --build          run npm run build first`;

const BENCH_FILE = join(REPO, 'BENCHMARKS.md');

function parse() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      strict: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      only: { type: 'string' },
      write: { type: 'boolean' },
      'no-write': { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      build: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  const rounds = Number(values.rounds ?? (values.quick ? 3 : 5));
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new Error(`--rounds takes a whole number ≥ 1, got ${values.rounds}`);
  const only = values.only ? values.only.split(',').map((s) => s.trim()) : undefined;
  const known = new Set(GROUPS.flatMap((g) => g.cases.map((c) => c.id)));
  for (const id of only ?? []) if (!known.has(id)) throw new Error(`unknown case "${id}": ${[...known].join(', ')}`);
  const write = values['no-write'] ? false : (values.write ?? (!values.quick && !only));
  return { ...values, rounds, only, write };
}

const sh = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();

function newestMtime(dir: string): number {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return t;
}

/** The commit measured, marked when src/ or bin/ differ from it (others may be editing). */
function commitLabel(): string {
  const head = sh('git', ['rev-parse', '--short', 'HEAD']);
  const dirty = sh('git', ['status', '--porcelain', '--', 'src', 'bin', 'package.json']);
  return dirty ? `${head} + uncommitted changes in src/` : head;
}

function machine(): string {
  const lfs = (() => {
    try {
      return sh('git', ['lfs', 'version']).split(' ')[0];
    } catch {
      return 'git-lfs ?';
    }
  })();
  return `${cpus().length} CPUs, Linux ${release()}, Node ${process.version}, ${lfs}`;
}

/** Replaces (or appends) the group's section between its markers, keeping the rest of the file. */
function recordSection(group: BenchGroup, table: string, meta: string): void {
  const begin = `<!-- bench:${group.id}:begin -->`;
  const end = `<!-- bench:${group.id}:end -->`;
  const section = [begin, `## ${group.title}`, '', meta, '', group.about, '', table, end].join('\n');
  let text = existsSync(BENCH_FILE)
    ? readFileSync(BENCH_FILE, 'utf8')
    : [
        '# Benchmarks',
        '',
        '`npm run bench` rewrites the sections below between their markers (`npm run bench -- --help`).',
        '',
      ].join('\n');
  const i = text.indexOf(begin);
  const j = text.indexOf(end);
  if (i >= 0 && j > i) text = text.slice(0, i) + section + text.slice(j + end.length);
  else text = `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(BENCH_FILE, text);
}

async function main(): Promise<number> {
  const o = parse();
  if (o.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const t0 = performance.now();
  const log = (msg: string) =>
    process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(0)}s] ${msg}\n`);
  if (o.build) {
    log('npm run build');
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  if (newestMtime(join(REPO, 'src')) > newestMtime(join(REPO, 'dist'))) {
    log('warning: src/ has changes newer than dist/: this measures the last build (pass --build to rebuild)');
  }

  const opts: BenchOptions = { quick: o.quick, rounds: o.rounds };
  const ws = makeWorkspace();
  const cleanup = () => {
    killChildren();
    if (o.keep) log(`kept ${ws.path}`);
    else ws.cleanup();
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      log(`${sig}: stopping`);
      cleanup();
      process.exit(130);
    });
  }
  const memo = new Map<string, Promise<unknown>>();
  let app: string;
  try {
    app = snapshotApp(join(ws.path, 'app'));
  } catch (e) {
    cleanup();
    throw e;
  }
  const ctx: BenchContext = {
    opts,
    work: ws.path,
    app,
    log,
    memo: <T>(key: string, make: () => Promise<T>) => {
      if (!memo.has(key)) memo.set(key, make());
      return memo.get(key) as Promise<T>;
    },
  };

  const date = new Date().toISOString().slice(0, 10);
  const load0 = loadavg()[0].toFixed(1); // the machine is shared: say how busy it was
  const commit = commitLabel();
  const all: Row[] = [];
  const done: { group: BenchGroup; rows: Row[] }[] = [];
  let broken = false;
  try {
    for (const group of GROUPS) {
      const cases = group.cases.filter((c) => !o.only || o.only.includes(c.id));
      if (cases.length === 0) continue;
      const rows: Row[] = [];
      for (const c of cases) {
        log(`case ${c.id}`);
        try {
          rows.push(...(await c.run(ctx)));
        } catch (e) {
          broken = true;
          log(`case ${c.id} failed: ${(e as Error).stack ?? e}`);
          rows.push({
            name: c.id,
            ours: `error: ${String((e as Error).message ?? e).slice(0, 80)}`,
            baseline: '-',
            ratio: '-',
            target: '-',
            pass: false,
          });
        }
      }
      all.push(...rows);
      done.push({ group, rows });
    }
  } finally {
    cleanup();
  }

  const args = process.argv.slice(2);
  const command = `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`;
  const load = `load average ${load0} at start, ${loadavg()[0].toFixed(1)} at end`;
  const meta = `${date} · commit ${commit} · \`${command}\` · ${machine()}, ${load} · ${opts.rounds} rounds, medians`;
  process.stdout.write(`\n${meta}\n\n${renderTable(all)}\n`);
  if (o.write && !broken) {
    for (const { group, rows } of done) recordSection(group, renderTable(rows), meta);
    log(`recorded in ${BENCH_FILE}`);
  } else if (o.write) {
    log('not recorded in BENCHMARKS.md: a case failed');
  }
  const missed = all.filter((r) => r.pass === false).length;
  log(
    `${missed} of ${all.filter((r) => r.pass !== null).length} targets missed; ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
  if (broken) return 2;
  return o.strict && missed > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`bench: ${(e as Error).message ?? e}\n`);
    process.exit(2);
  },
);
