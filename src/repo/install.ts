/**
 * `lfs-bridge install`: once per machine, the global git config keys that let a plain `git clone` of a bridged
 * repository check out its LFS files. The agent is registered under its own name, and made the standalone agent
 * only for LFS URLs under the sentinel base (config/sentinel.ts), which only a committed `lfs.url` written by
 * `setup --shared` points to: every other remote keeps its own LFS server and transfer.
 */
import { SENTINEL_BASE } from '../config/sentinel.js';
import { git, gitOk } from '../git.js';
import { AGENT, agentCommand } from './setup.js';

const CT = `lfs.customtransfer.${AGENT}`;
/** git-lfs matches `lfs.<url>.standalonetransferagent` by URL prefix, as git does `http.<url>.*`. */
export const SCOPED_AGENT_KEY = `lfs.${SENTINEL_BASE}.standalonetransferagent`;

export interface InstallResult {
  /** The global config file git wrote to. */
  file: string;
  /** Keys set (or changed) now. */
  written: Record<string, string>;
  /** Keys that already had the value. */
  unchanged: Record<string, string>;
}

export interface UninstallResult {
  file: string;
  removed: string[];
}

/** The keys and values install writes (all lowercase: git-lfs 3.3 ignores `customTransfer`). */
export function installKeys(): [string, string][] {
  const cmd = agentCommand();
  return [
    [`${CT}.path`, cmd.path],
    [`${CT}.args`, cmd.args],
    [`${CT}.concurrent`, 'true'],
    [SCOPED_AGENT_KEY, AGENT],
  ];
}

const opts = (env?: NodeJS.ProcessEnv) => ({ env: env ?? process.env, cwd: '/' });

async function globalGet(key: string, env?: NodeJS.ProcessEnv): Promise<string | undefined> {
  const r = await git(['config', '--global', '--get', key], opts(env));
  return r.code === 0 ? r.stdout.replace(/\n$/, '') : undefined;
}

/** Where `git config --global` writes: GIT_CONFIG_GLOBAL, else ~/.gitconfig (git's own choice, asked of git). */
async function globalFile(env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await git(['config', '--global', '--show-origin', '--get', `${CT}.path`], opts(env));
  const m = /^file:(.*)\t/.exec(r.stdout);
  if (m) return m[1];
  const e = env ?? process.env;
  return e.GIT_CONFIG_GLOBAL || `${e.HOME ?? '~'}/.gitconfig`;
}

export async function install(env?: NodeJS.ProcessEnv): Promise<InstallResult> {
  const written: Record<string, string> = {};
  const unchanged: Record<string, string> = {};
  for (const [key, value] of installKeys()) {
    if ((await globalGet(key, env)) === value) {
      unchanged[key] = value;
      continue;
    }
    await gitOk(['config', '--global', '--replace-all', key, value], opts(env));
    written[key] = value;
  }
  return { file: await globalFile(env), written, unchanged };
}

/**
 * Removes what install writes and nothing else: the agent's three keys, the scoped key while it names the agent,
 * and the `[lfs "customtransfer.lfs-bridge"]` header once no key is left under it.
 */
export async function uninstall(env?: NodeJS.ProcessEnv): Promise<UninstallResult> {
  const file = await globalFile(env);
  const removed: string[] = [];
  for (const [key] of installKeys()) {
    const v = await globalGet(key, env);
    if (v === undefined || (key === SCOPED_AGENT_KEY && v !== AGENT)) continue;
    await gitOk(['config', '--global', '--unset-all', key], opts(env));
    removed.push(key);
  }
  for (const section of [CT, `lfs.${SENTINEL_BASE}`]) {
    const left = await git(['config', '--global', '--get-regexp', `^${escapeRe(section)}\\.`], opts(env));
    if (left.code === 1) await git(['config', '--global', '--remove-section', section], opts(env));
  }
  return { file, removed };
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Whether install's keys are in the global config with the values install would write now. */
export async function installed(env?: NodeJS.ProcessEnv): Promise<{ ok: boolean; missing: string[] }> {
  const missing: string[] = [];
  for (const [key, value] of installKeys()) if ((await globalGet(key, env)) !== value) missing.push(key);
  return { ok: missing.length === 0, missing };
}
