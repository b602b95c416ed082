/**
 * Benchmarks of the agent with the `local` provider against the floor git-lfs itself imposes: the same git-lfs
 * commands through bench/copy-agent.mjs, a custom transfer agent that only copies (no hashing, no fsync), and
 * `node -e 0` for start-up. Every timed pair runs interleaved in the same rounds; the median of each counts.
 * Rows marked "info" have no target: they split a ratio into its parts (e.g. how much of it is fsync).
 * The fixtures and the timing helpers (interleave, agentRun) are exported for the provider groups.
 */
import { link, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { objectPath } from '../test/helpers/files.js';
import {
  type BenchCase,
  type BenchContext,
  type BenchGroup,
  type DataFile,
  fmtMB,
  fmtMs,
  fmtRate,
  fmtRatio,
  fmtSize,
  GiB,
  KiB,
  MiB,
  median,
  pointer,
  REPO,
  type Row,
  run,
  spawnTracked,
  syncDisks,
  writeRandomFile,
} from './lib.js';

const NODE = process.execPath;
const runJs = (ctx: BenchContext) => join(ctx.app, 'bin', 'run.js');
const COPY_AGENT = join(REPO, 'bench', 'copy-agent.mjs');

/** Targets from the issue. */
const TARGET = {
  bigPush: 0.85, // ours ≥ 0.85x the copy agent's throughput
  bigPull: 0.8,
  smallPush: 1.5, // ours ≤ 1.5x the copy agent's time
  init: 2.5, // ours ≤ 2.5x `node -e 0`
  rssFlatFactor: 1.1, // peak at 4 GiB ≤ 1.1 × peak at 1 GiB + 10 MB
  rssFlatSlack: 10e6,
  rssMax: 150e6,
};

const sizes = (ctx: BenchContext) => ({
  big: ctx.opts.quick ? 256 * MiB : GiB,
  huge: ctx.opts.quick ? GiB : 4 * GiB,
  smallCount: ctx.opts.quick ? 200 : 1000,
  smallSize: 4 * KiB,
});

// ---------------------------------------------------------------- fixtures

/** Environment for git, git-lfs and the agents: a private HOME (so state, locks and config stay in temp). */
function benchEnv(ctx: BenchContext): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(GIT_|LFS_BRIDGE_|XDG_)/.test(k)) continue;
    env[k] = v;
  }
  return { ...env, HOME: join(ctx.work, 'home'), GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };
}

export function prepareHome(ctx: BenchContext): Promise<NodeJS.ProcessEnv> {
  return ctx.memo('home', async () => {
    const home = join(ctx.work, 'home');
    await mkdir(home, { recursive: true });
    await writeFile(
      join(home, '.gitconfig'),
      '[user]\n\tname = bench\n\temail = bench@example.invalid\n[init]\n\tdefaultBranch = main\n',
    );
    const env = benchEnv(ctx);
    await run('git', ['init', '-q', '--bare', join(ctx.work, 'remote.git')], { env });
    return env;
  });
}

type Kind = 'ours' | 'copy' | 'copy+fsync';

interface Agent {
  kind: Kind;
  repo: string;
  store: string;
  /** Where this agent keeps an object in its store. */
  stored(oid: string): string;
}

const shq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * A clone whose one commit holds `objects` as LFS pointers, their contents already in .git/lfs/objects (hard
 * links to the generated data), wired to one agent and an empty store. No smudge or clean filter runs.
 */
async function makeRepo(ctx: BenchContext, name: string, kind: Kind, objects: { rel: string; data: DataFile }[]) {
  const env = await prepareHome(ctx);
  const repo = join(ctx.work, 'repos', name);
  const store = join(ctx.work, 'stores', name);
  await mkdir(store, { recursive: true });
  await run('git', ['init', '-q', '-b', 'main', repo], { env });
  await run('git', ['remote', 'add', 'origin', join(ctx.work, 'remote.git')], { cwd: repo, env });
  await writeFile(join(repo, '.gitattributes'), '*.bin filter=lfs diff=lfs merge=lfs -text\n');
  for (const { rel, data } of objects) {
    const file = join(repo, rel);
    await mkdir(join(file, '..'), { recursive: true });
    await writeFile(file, pointer(data.oid, data.size));
    const obj = objectPath(join(repo, '.git', 'lfs', 'objects'), data.oid);
    await mkdir(join(obj, '..'), { recursive: true });
    await link(data.path, obj).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
  }
  await run('git', ['add', '-A'], { cwd: repo, env });
  await run('git', ['commit', '-q', '-m', 'bench objects'], { cwd: repo, env });
  if (kind === 'ours') {
    await run(NODE, [runJs(ctx), 'setup', '--provider', 'local', '--root', store], { cwd: repo, env });
  } else {
    const cfg = (k: string, v: string) => run('git', ['config', '--local', k, v], { cwd: repo, env });
    await run('git', ['lfs', 'install', '--local'], { cwd: repo, env });
    await cfg('lfs.standalonetransferagent', 'copy');
    await cfg('lfs.customtransfer.copy.path', NODE);
    await cfg(
      'lfs.customtransfer.copy.args',
      `${shq(COPY_AGENT)} ${shq(store)}${kind === 'copy+fsync' ? ' --fsync' : ''}`,
    );
    await cfg('lfs.customtransfer.copy.concurrent', 'true');
  }
  const stored = kind === 'ours' ? (oid: string) => objectPath(store, oid) : (oid: string) => join(store, oid);
  return { kind, repo, store, stored } satisfies Agent;
}

async function emptyDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}

export async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch {
    return null;
  }
}

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n++;
  return n;
}

export const bigData = (ctx: BenchContext) =>
  ctx.memo('data-big', async () => {
    await mkdir(join(ctx.work, 'data'), { recursive: true });
    const size = sizes(ctx).big;
    ctx.log(`writing ${fmtSize(size)} of random data`);
    const d = writeRandomFile(join(ctx.work, 'data', 'big.bin'), size);
    await syncDisks();
    return d;
  });

const hugeData = (ctx: BenchContext) =>
  ctx.memo('data-huge', async () => {
    await mkdir(join(ctx.work, 'data'), { recursive: true });
    const size = sizes(ctx).huge;
    ctx.log(`writing ${fmtSize(size)} of random data`);
    const d = writeRandomFile(join(ctx.work, 'data', 'huge.bin'), size);
    await syncDisks();
    return d;
  });

const KINDS: Kind[] = ['ours', 'copy', 'copy+fsync'];

const bigRepos = (ctx: BenchContext) =>
  ctx.memo('repos-big', async () => {
    const data = await bigData(ctx);
    const agents = [];
    for (const kind of KINDS) agents.push(await makeRepo(ctx, `big-${kind}`, kind, [{ rel: 'big.bin', data }]));
    return { data, agents };
  });

const smallRepos = (ctx: BenchContext) =>
  ctx.memo('repos-small', async () => {
    const { smallCount, smallSize } = sizes(ctx);
    const dir = join(ctx.work, 'data', 'small');
    await mkdir(dir, { recursive: true });
    const objects = [];
    for (let i = 0; i < smallCount; i++) {
      const rel = `small/${String(i).padStart(4, '0')}.bin`;
      objects.push({ rel, data: writeRandomFile(join(dir, `${i}.bin`), smallSize) });
    }
    const agents = [];
    for (const kind of KINDS) agents.push(await makeRepo(ctx, `small-${kind}`, kind, objects));
    return { objects, agents };
  });

// ---------------------------------------------------------------- interleaved timing

export interface Contender {
  name: string;
  /** Untimed: reset state before each timed run. */
  prepare(): Promise<void>;
  /** The timed part: wall and CPU milliseconds of the process tree. */
  run(): Promise<Timing>;
  /** Untimed: proves the run did its job (a failing agent must not look fast). */
  check(): Promise<void>;
}

export interface Timing {
  ms: number;
  cpuMs: number;
}

/** Runs every contender once per round, in a rotating order, with a `sync` before each; medians per name. */
/** `settle` runs before each timed run (default: sync). */
export async function interleave(
  ctx: BenchContext,
  label: string,
  contenders: Contender[],
  rounds = ctx.opts.rounds,
  settle: () => Promise<unknown> = syncDisks,
) {
  const times = new Map<string, Timing[]>(contenders.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    const order = contenders.map((_, i) => contenders[(i + r) % contenders.length]);
    const parts: string[] = [];
    for (const c of order) {
      await c.prepare();
      await settle();
      const t = await c.run();
      await c.check();
      times.get(c.name)?.push(t);
      parts.push(`${c.name} ${fmtMs(t.ms)}${t.cpuMs ? ` (cpu ${fmtMs(t.cpuMs)})` : ''}`);
    }
    ctx.log(`${label} round ${r + 1}/${rounds}: ${parts.join(', ')}`);
  }
  return new Map(
    [...times].map(([k, v]) => [k, { ms: median(v.map((t) => t.ms)), cpuMs: median(v.map((t) => t.cpuMs)) }]),
  );
}

const git = (agent: Agent, env: NodeJS.ProcessEnv, args: string[]) => run('git', args, { cwd: agent.repo, env });

const cpuNote = (t: Timing) => `cpu ${fmtMs(t.cpuMs)}`;

function throughputRows(what: string, size: number, med: Map<string, Timing>, target: number): Row[] {
  const ours = med.get('ours') as Timing;
  const cell = (t: Timing) => `${fmtMs(t.ms)}, ${fmtRate(size, t.ms)}, ${cpuNote(t)}`;
  const row = (base: Kind, tgt: number | null): Row => {
    const b = med.get(base) as Timing;
    const ratio = b.ms / ours.ms; // throughput ratio = inverse time ratio
    return {
      name: `${what} ${fmtSize(size)}: throughput vs ${base} agent`,
      ours: cell(ours),
      baseline: cell(b),
      ratio: fmtRatio(ratio),
      target: tgt === null ? '-' : `≥ ${tgt}x`,
      pass: tgt === null ? null : ratio >= tgt,
    };
  };
  return [row('copy', target), row('copy+fsync', null)];
}

// ---------------------------------------------------------------- cases

const pushBig: BenchCase = {
  id: 'push-big',
  async run(ctx) {
    const env = await prepareHome(ctx);
    const { data, agents } = await bigRepos(ctx);
    const med = await interleave(
      ctx,
      `push ${fmtSize(data.size)}`,
      agents.map((a) => ({
        name: a.kind,
        prepare: () => emptyDir(a.store),
        run: () => git(a, env, ['lfs', 'push', 'origin', 'main']),
        check: async () => {
          const got = await sizeOf(a.stored(data.oid));
          if (got !== data.size) throw new Error(`${a.kind}: push left ${got} bytes in the store, want ${data.size}`);
        },
      })),
    );
    return throughputRows('git lfs push', data.size, med, TARGET.bigPush);
  },
};

const pullBig: BenchCase = {
  id: 'pull-big',
  async run(ctx) {
    const env = await prepareHome(ctx);
    const { data, agents } = await bigRepos(ctx);
    const med = await interleave(
      ctx,
      `fetch ${fmtSize(data.size)}`,
      agents.map((a) => {
        const lfs = join(a.repo, '.git', 'lfs');
        const local = objectPath(join(lfs, 'objects'), data.oid);
        return {
          name: a.kind,
          prepare: async () => {
            for (const d of ['objects', 'tmp', 'incomplete']) await rm(join(lfs, d), { recursive: true, force: true });
            const obj = a.stored(data.oid);
            await rm(obj, { force: true });
            await mkdir(join(obj, '..'), { recursive: true });
            await link(data.path, obj); // the same page-cached bytes for every contender
          },
          run: () => git(a, env, ['lfs', 'fetch', 'origin', 'main']),
          check: async () => {
            const got = await sizeOf(local);
            if (got !== data.size) throw new Error(`${a.kind}: fetch left ${got} bytes in ${local}`);
          },
        };
      }),
    );
    return throughputRows('git lfs fetch', data.size, med, TARGET.bigPull);
  },
};

const pushSmall: BenchCase = {
  id: 'push-small',
  async run(ctx) {
    const env = await prepareHome(ctx);
    const { objects, agents } = await smallRepos(ctx);
    const { smallSize } = sizes(ctx);
    const med = await interleave(
      ctx,
      `push ${objects.length} x ${fmtSize(smallSize)}`,
      agents.map((a) => ({
        name: a.kind,
        prepare: () => emptyDir(a.store),
        run: () => git(a, env, ['lfs', 'push', 'origin', 'main']),
        check: async () => {
          const n = await countFiles(a.store);
          if (n !== objects.length)
            throw new Error(`${a.kind}: push left ${n} files in the store, want ${objects.length}`);
        },
      })),
    );
    const ours = med.get('ours') as Timing;
    const cell = (t: Timing) => `${fmtMs(t.ms)}, ${(t.ms / objects.length).toFixed(2)} ms/object, ${cpuNote(t)}`;
    const row = (base: Kind, tgt: number | null): Row => {
      const b = med.get(base) as Timing;
      return {
        name: `git lfs push ${objects.length} x ${fmtSize(smallSize)}: time vs ${base} agent`,
        ours: cell(ours),
        baseline: cell(b),
        ratio: fmtRatio(ours.ms / b.ms),
        target: tgt === null ? '-' : `≤ ${tgt}x`,
        pass: tgt === null ? null : ours.ms / b.ms <= tgt,
      };
    };
    return [row('copy', TARGET.smallPush), row('copy+fsync', null)];
  },
};

/**
 * Info: the same small uploads sent straight to one agent process, one at a time, without git-lfs: the
 * per-object cost of the agent itself, apart from git-lfs and the start-up of its 8 workers.
 */
const objectsDirect: BenchCase = {
  id: 'objects-direct',
  async run(ctx) {
    const env = await prepareHome(ctx);
    const { objects, agents } = await smallRepos(ctx);
    const { smallSize } = sizes(ctx);
    const reqs = objects.map(({ data }) => ({ oid: data.oid, size: data.size, path: data.path }));
    const argv = (a: Agent) =>
      a.kind === 'ours'
        ? [NODE, runJs(ctx), 'transfer']
        : [NODE, COPY_AGENT, a.store, ...(a.kind === 'copy+fsync' ? ['--fsync'] : [])];
    const med = await interleave(
      ctx,
      `agent alone, ${objects.length} x ${fmtSize(smallSize)}`,
      agents.map((a) => ({
        name: a.kind,
        prepare: () => emptyDir(a.store),
        run: async () => ({ ms: (await agentRun(argv(a), a.repo, env, 'upload', reqs)).ms, cpuMs: 0 }),
        check: async () => {
          const n = await countFiles(a.store);
          if (n !== objects.length) throw new Error(`${a.kind}: ${n} files in the store, want ${objects.length}`);
        },
      })),
    );
    const per = (k: Kind) => (med.get(k) as Timing).ms / objects.length;
    return (['copy', 'copy+fsync'] as const).map((base) => ({
      name: `agent alone, ${objects.length} x ${fmtSize(smallSize)} uploads in one process: time vs ${base} agent`,
      ours: `${per('ours').toFixed(2)} ms/object`,
      baseline: `${per(base).toFixed(2)} ms/object`,
      ratio: fmtRatio(per('ours') / per(base)),
      target: '-',
      pass: null,
    }));
  },
};

/** Spawn → `{}` for our agent; spawn → exit for `node -e 0`. */
const initLatency: BenchCase = {
  id: 'init',
  async run(ctx) {
    const env = await prepareHome(ctx);
    const agent = await ctx.memo('repo-init', () => makeRepo(ctx, 'init', 'ours', []));
    const runs = 15;
    const ours: number[] = [];
    const node: number[] = [];
    const timeNode = async () => (await run(NODE, ['-e', '0'], { env })).ms;
    const timeInit = async () => {
      const t0 = performance.now();
      const child = spawnTracked(NODE, [runJs(ctx), 'transfer'], {
        cwd: agent.repo,
        env,
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr?.setEncoding('utf8').on('data', (d: string) => {
        stderr += d;
      });
      const exited = new Promise<number | null>((res) => child.on('close', res));
      child.stdin?.write(
        `${JSON.stringify({ event: 'init', operation: 'upload', remote: 'origin', concurrent: true, concurrenttransfers: 8 })}\n`,
      );
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      const first = await new Promise<string | null>((res) => {
        lines.once('line', res);
        lines.once('close', () => res(null));
      });
      const ms = performance.now() - t0;
      child.stdin?.end(`${JSON.stringify({ event: 'terminate' })}\n`);
      const code = await exited;
      if (first !== '{}' || code !== 0) throw new Error(`init answered ${first}, exit ${code}: ${stderr.trim()}`);
      return ms;
    };
    await timeNode(); // warm the file cache for both
    await timeInit();
    for (let i = 0; i < runs; i++) {
      if (i % 2) {
        node.push(await timeNode());
        ours.push(await timeInit());
      } else {
        ours.push(await timeInit());
        node.push(await timeNode());
      }
    }
    const o = median(ours);
    const n = median(node);
    ctx.log(
      `init: ours ${ours.map((x) => x.toFixed(0)).join(' ')} ms; node -e 0 ${node.map((x) => x.toFixed(0)).join(' ')} ms`,
    );
    return [
      {
        name: `transfer init → {} vs node -e 0 (median of ${runs})`,
        ours: fmtMs(o),
        baseline: fmtMs(n),
        ratio: fmtRatio(o / n),
        target: `≤ ${TARGET.init}x`,
        pass: o / n <= TARGET.init,
      },
    ];
  },
};

/** VmHWM of a live process, in bytes (the kernel's own peak RSS; it never decreases). */
async function vmHWM(pid: number): Promise<number | null> {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null; // gone
  }
}

type Complete = { event: 'complete'; oid: string; path?: string; error?: { code: number; message: string } };

interface AgentRun {
  /** Peak RSS (VmHWM) in bytes. */
  peak: number;
  /** VmHWM when init was answered: the agent's footprint before any transfer. */
  atInit: number;
  /** From the first request to the last `complete`. */
  ms: number;
  completes: Complete[];
}

/**
 * Runs an agent directly with scripted stdin: init, the requests one at a time (each after the previous
 * `complete`, as git-lfs does), terminate. VmHWM is sampled every 50 ms and once more after the last
 * `complete`, before `terminate` lets the process exit.
 */
export async function agentRun(
  argv: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
  operation: 'upload' | 'download',
  reqs: Record<string, unknown>[],
): Promise<AgentRun> {
  const child = spawnTracked(argv[0], argv.slice(1), { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const pid = child.pid as number;
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  const exited = new Promise<number | null>((res) => child.on('close', res));
  let peak = 0;
  const sample = async () => {
    peak = Math.max(peak, (await vmHWM(pid)) ?? 0);
  };
  const timer = setInterval(() => void sample(), 50);
  try {
    const send = (m: unknown) => child.stdin?.write(`${JSON.stringify(m)}\n`);
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    send({ event: 'init', operation, remote: 'origin', concurrent: true, concurrenttransfers: 8 });
    let t0 = 0;
    let atInit = 0;
    const completes: Complete[] = [];
    for await (const line of lines) {
      const msg = JSON.parse(line);
      if (msg.error && !msg.event) throw new Error(`init failed: ${line}`);
      if (!msg.event) {
        atInit = (await vmHWM(pid)) ?? 0;
        t0 = performance.now();
      } else if (msg.event === 'complete') {
        if (msg.error) throw new Error(`${argv.join(' ')}: ${operation} failed: ${JSON.stringify(msg.error)}`);
        completes.push(msg);
      } else continue;
      const next = reqs[completes.length];
      if (!next) break;
      send({ event: operation, ...next });
    }
    const ms = performance.now() - t0;
    await sample();
    child.stdin?.end(`${JSON.stringify({ event: 'terminate' })}\n`);
    const code = await exited;
    if (completes.length !== reqs.length) {
      throw new Error(
        `${argv.join(' ')} answered ${completes.length} of ${reqs.length} (exit ${code}): ${stderr.trim()}`,
      );
    }
    if (code !== 0) throw new Error(`${argv.join(' ')} exited ${code}: ${stderr.trim()}`);
    return { peak, atInit, ms, completes };
  } finally {
    clearInterval(timer);
    child.stdin?.destroy();
  }
}

const rss: BenchCase = {
  id: 'rss',
  async run(ctx) {
    const env = await prepareHome(ctx);
    const agent = await ctx.memo('repo-rss', () => makeRepo(ctx, 'rss', 'ours', []));
    const peaks: Record<'upload' | 'download', number[]> = { upload: [], download: [] };
    const datas = [await bigData(ctx), await hugeData(ctx)];
    for (const data of datas) {
      await emptyDir(agent.store);
      await syncDisks();
      const ours = [NODE, runJs(ctx), 'transfer'];
      const up = await agentRun(ours, agent.repo, env, 'upload', [{ oid: data.oid, size: data.size, path: data.path }]);
      if ((await sizeOf(agent.stored(data.oid))) !== data.size) throw new Error('upload did not store the object');
      await syncDisks();
      const down = await agentRun(ours, agent.repo, env, 'download', [{ oid: data.oid, size: data.size }]);
      const handed = down.completes[0].path;
      const got = handed ? await sizeOf(handed) : null;
      if (got !== data.size) throw new Error(`download handed over ${got} bytes at ${handed}`);
      if (handed) await rm(handed, { force: true });
      await emptyDir(agent.store);
      peaks.upload.push(up.peak);
      peaks.download.push(down.peak);
      ctx.log(
        `agent alone, ${fmtSize(data.size)}: upload ${fmtMs(up.ms)} (${fmtRate(data.size, up.ms)}), ` +
          `peak ${fmtMB(up.peak)} (${fmtMB(up.atInit)} at init); download ${fmtMs(down.ms)} ` +
          `(${fmtRate(data.size, down.ms)}), peak ${fmtMB(down.peak)} (${fmtMB(down.atInit)} at init)`,
      );
    }
    const [small, large] = datas.map((d) => fmtSize(d.size));
    return (['upload', 'download'] as const).map((op) => {
      const [a, b] = peaks[op];
      const flat = b <= TARGET.rssFlatFactor * a + TARGET.rssFlatSlack;
      const under = Math.max(a, b) < TARGET.rssMax;
      return {
        name: `peak RSS of the agent, ${op}: ${large} vs ${small}`,
        ours: `${fmtMB(b)} (${large})`,
        baseline: `${fmtMB(a)} (${small})`,
        ratio: fmtRatio(b / a),
        target: `≤ ${TARGET.rssFlatFactor}x + ${TARGET.rssFlatSlack / 1e6} MB, < ${TARGET.rssMax / 1e6} MB`,
        pass: flat && under,
      };
    });
  },
};

export const localBench: BenchGroup = {
  id: 'local',
  title: 'local provider against the git-lfs floor',
  about: [
    '- **ours**: `lfs-bridge transfer` with the `local` provider (store in /tmp), run by git-lfs as set up by',
    '  `lfs-bridge setup`. **copy agent**: `bench/copy-agent.mjs` under plain `node`, a custom transfer agent that',
    '  only copies (no hashing, no fsync). **copy+fsync**: the same agent with an fsync per file (info only: how',
    '  much of a ratio is the durability our agent pays for).',
    '- Push: `git lfs push origin main` into an empty store. Pull: `git lfs fetch origin main` with',
    '  `.git/lfs/objects` removed (the transfer part of a pull; git-lfs hashes the file after either agent, and',
    '  ours also verifies SHA-256 while it downloads). Timed pairs run interleaved, each after a `sync`; medians.',
    '- Init: spawn of `node bin/run.js transfer` in a set-up repository until its `{}` answer, against spawn to',
    '  exit of `node -e 0`. Peak RSS: VmHWM of the agent run directly with scripted stdin (one object).',
    '- "agent alone" (info): the small objects sent straight to one agent process, one at a time, without',
    "  git-lfs: the per-object cost of the agent itself, apart from the start-up of git-lfs's 8 workers.",
    '- Cells show the median wall time; `cpu` is the user+system time of the whole process tree (git, git-lfs,',
    '  every agent process), much steadier than wall time on a busy machine.',
  ].join('\n'),
  cases: [initLatency, pushBig, pullBig, pushSmall, objectsDirect, rss],
};
