/**
 * `lfs-bridge clone`: the fresh-clone dance in one command. A plain `git clone` of a bridged repository fails at
 * checkout (the agent is not registered yet), so: clone with smudge skipped, setup from the team file, git lfs pull.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { configError } from '../errors.js';
import { type SetupOptions, type SetupResult, setup } from './setup.js';

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, quiet: boolean): Promise<void> {
  return new Promise((res, rej) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'] });
    child.on('error', rej);
    child.on('close', (code) => (code === 0 ? res() : rej(configError(`${cmd} ${args.join(' ')} exited ${code}`))));
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

export async function clone(o: CloneOptions): Promise<SetupResult> {
  const cwd = o.cwd ?? process.cwd();
  const dir = resolve(cwd, o.dir ?? defaultDir(o.url));
  const env = { ...process.env, GIT_LFS_SKIP_SMUDGE: '1' };
  await run('git', ['clone', ...(o.gitArgs ?? []), '--', o.url, dir], cwd, env, !!o.quiet);
  const result = await setup({ ...o, cwd: dir });
  await run('git', ['lfs', 'pull'], dir, process.env, !!o.quiet);
  return result;
}
