/** Runs git without a shell (argv only), so paths and values never meet shell quoting on any OS. */
import { execFile } from 'node:child_process';

export interface GitResult {
  stdout: string;
  stderr: string;
  code: number;
}

export function git(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      { cwd: opts.cwd, env: opts.env ?? process.env, maxBuffer: 64 * 1024 * 1024, windowsHide: true },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        if (err && typeof err.code !== 'number') return reject(err); // git missing, spawn failure
        resolve({ stdout: String(stdout), stderr: String(stderr), code });
      },
    );
  });
}

/** git that must succeed; the error carries git's own message. */
export async function gitOk(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const r = await git(args, opts);
  if (r.code !== 0) throw new Error(`git ${args.join(' ')} failed: ${r.stderr.trim() || `exit ${r.code}`}`);
  return r.stdout;
}

/** All values of keys matching a regexp, from every config level git would read; keys are lowercased by git. */
export async function gitConfigMap(pattern: string, cwd?: string, file?: string): Promise<Map<string, string>> {
  const args = ['config', '-z'];
  if (file) args.push('--file', file);
  args.push('--get-regexp', pattern);
  const r = await git(args, { cwd });
  const map = new Map<string, string>();
  if (r.code !== 0) return map; // 1 = no match
  for (const entry of r.stdout.split('\0')) {
    if (!entry) continue;
    const nl = entry.indexOf('\n');
    const key = nl < 0 ? entry : entry.slice(0, nl);
    map.set(key, nl < 0 ? '' : entry.slice(nl + 1));
  }
  return map;
}
