/**
 * `lfs-bridge clone`: the fresh-clone dance in one command. A plain `git clone` of a bridged repository fails at
 * checkout (the agent is not registered yet), so: clone with smudge skipped, setup from the team file, git lfs pull.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { configError } from '../errors.js';
import { git } from '../git.js';
import { type SetupOptions, type SetupResult, setup } from './setup.js';

interface Ran {
  code: number | null;
  /** What the command wrote to stderr (also passed through to ours as it came). */
  stderr: string;
}

/** Runs `cmd`; its stderr goes to ours as it comes and is kept for the error message. */
function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, quiet: boolean): Promise<Ran> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      process.stderr.write(b);
      if (stderr.length < 1 << 20) stderr += b.toString('utf8');
    });
    child.on('error', rej);
    child.on('close', (code) => res({ code, stderr }));
  });
}

export interface CloneOptions extends Omit<SetupOptions, 'cwd' | 'shared'> {
  url: string;
  dir?: string;
  cwd?: string;
  quiet?: boolean;
  /** Extra git clone arguments (e.g. --branch x). */
  gitArgs?: string[];
}

/** Directory name git itself would pick for a URL. */
export function defaultDir(url: string): string {
  const clean = url.replace(/[/\\]+$/, '').replace(/\.git$/, '');
  return clean.split(/[/:\\]/).pop() || 'repo';
}

/** git-lfs names each object it could not get: `error transferring "<oid>": <why>`. */
const FAILED = /^error transferring "([0-9a-f]{64})": (.*)$/gm;

/** "<path>: <why>" for each object git lfs pull could not get, else git-lfs's last lines that are not progress. */
export async function pullFailures(dir: string, stderr: string): Promise<string[]> {
  const failed = [...stderr.matchAll(FAILED)].map((m) => ({ oid: m[1]!, why: m[2]!.trim() }));
  if (!failed.length) {
    return stderr
      .split(/[\r\n]+/)
      .map((l) => l.trim())
      .filter((l) => l && !/^(Downloading|Fetching|Checking out) LFS objects:/.test(l))
      .slice(-5);
  }
  const paths = new Map<string, string>();
  const ls = await git(['lfs', 'ls-files', '--long'], { cwd: dir }).catch(() => null);
  for (const line of ls?.stdout.split('\n') ?? []) {
    const m = /^([0-9a-f]{64}) [*-] (.*)$/.exec(line);
    if (m && !paths.has(m[1]!)) paths.set(m[1]!, m[2]!);
  }
  return failed.map(({ oid, why }) => `${paths.get(oid) ?? oid}: ${why}`);
}

export async function clone(o: CloneOptions): Promise<SetupResult> {
  const cwd = o.cwd ?? process.cwd();
  const dir = resolve(cwd, o.dir ?? defaultDir(o.url));
  const env = { ...process.env, GIT_LFS_SKIP_SMUDGE: '1' };
  const cloned = await run('git', ['clone', ...(o.gitArgs ?? []), '--', o.url, dir], cwd, env, !!o.quiet);
  if (cloned.code !== 0) throw configError(`git clone ${o.url} failed (exit ${cloned.code}): see git's message above`);
  const result = await setup({ ...o, cwd: dir });
  // git-lfs shows its progress only on a terminal; ours still is one when its stderr is piped through here.
  const pullEnv = process.stderr.isTTY ? { ...process.env, GIT_LFS_FORCE_PROGRESS: '1' } : process.env;
  const pulled = await run('git', ['lfs', 'pull'], dir, pullEnv, !!o.quiet);
  if (pulled.code !== 0) {
    const lines = await pullFailures(dir, pulled.stderr);
    const n = [...pulled.stderr.matchAll(FAILED)].length;
    const what = n ? `${n} LFS object${n === 1 ? '' : 's'} could not be fetched` : 'git lfs pull failed';
    throw configError(
      `${what} (the rest of the clone is in ${dir}):\n${lines.map((l) => `  ${l}`).join('\n')}`,
      `once fixed, run git lfs pull in ${dir}`,
    );
  }
  return result;
}
