/**
 * `lfs-bridge setup`: wires a repository to the agent in its own .git/config (git-lfs ignores agent keys in
 * .lfsconfig), and optionally shares provider/root with the team through a committed file, which `setup` with no
 * flags adopts in a fresh clone — visibly. At run time only .git/config counts.
 *
 * The team file is `.lfs-bridge` (git-config format), not `.lfsconfig`: git-lfs 3.3 prints "These unsafe
 * '.lfsconfig' keys were ignored" for every key outside its short safe list, on every command. `.lfsconfig`
 * is still read for adoption, for teams that put the keys there by hand.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type ProviderName, parseConfig } from '../config/index.js';
import { parseSentinel, readSentinel, sentinelUrl } from '../config/sentinel.js';
import { parseSize } from '../config/size.js';
import { configError, toBridgeError } from '../errors.js';
import { git, gitConfigMap, gitOk } from '../git.js';
import { createLogger } from '../log.js';
import {
  availableProviders,
  isProviderName,
  loadProviderModule,
  providerEntry,
  unknownProvider,
} from '../providers/index.js';
import { finishFailedCheckout } from './checkout.js';

export const AGENT = 'lfs-bridge';
export const TEAM_FILE = '.lfs-bridge';
const CT = `lfs.customtransfer.${AGENT}`;

export interface SetupOptions {
  cwd?: string;
  provider?: string;
  root?: string;
  shared?: boolean;
  chunkSize?: string;
  maxRate?: string;
  downloadStreams?: string;
  uploadStreams?: string;
  account?: string;
  env?: NodeJS.ProcessEnv;
}

export interface SetupResult {
  top: string;
  provider: ProviderName;
  root: string;
  /** Keys taken from the team file, when setup ran without --provider/--root. */
  adopted: Record<string, string>;
  /** The file they came from. */
  adoptedFrom?: string;
  /** Keys written to .git/config. */
  written: Record<string, string>;
  /** Keys written to the team file (--shared). */
  shared: Record<string, string>;
  /** Keys written to .lfsconfig (--shared): the sentinel lfs.url. */
  lfsconfig: Record<string, string>;
  /** Files checked out to finish a clone whose checkout had failed. */
  checkedOut: number;
  notes: string[];
}

export async function workTreeTop(cwd?: string): Promise<string> {
  const r = await git(['rev-parse', '--show-toplevel'], { cwd });
  if (r.code !== 0 || !r.stdout.trim())
    throw configError('not inside a git work tree', 'cd into your repository first');
  return r.stdout.trim();
}

/** The command git-lfs runs: absolute node + absolute script, so GUI clients with a bare PATH still find it. */
export function agentCommand(): { path: string; args: string } {
  const script = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'run.js');
  // git-lfs runs `sh -c "'<path>' <args>"`: args are shell-expanded, so quote the script path for sh.
  return { path: process.execPath, args: `${shQuote(script)} transfer` };
}

const shQuote = (s: string) => (/^[A-Za-z0-9_@/.:=+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

const sharedKeys = ['lfs-bridge.provider', 'lfs-bridge.root', 'lfs-bridge.chunksize'];

export async function setup(o: SetupOptions): Promise<SetupResult> {
  const top = await workTreeTop(o.cwd);
  const teamFile = join(top, TEAM_FILE);
  const adopted: Record<string, string> = {};
  let adoptedFrom: string | undefined;
  const notes: string[] = [];
  let provider = o.provider;
  let rootAsGiven = o.root;
  if (!provider || !rootAsGiven) {
    let fromFile = new Map<string, string>();
    for (const name of [TEAM_FILE, '.lfsconfig']) {
      const file = join(top, name);
      if (!existsSync(file)) continue;
      fromFile = await gitConfigMap('^lfs-bridge\\.', top, file);
      if (fromFile.size) {
        adoptedFrom = name;
        break;
      }
    }
    for (const k of sharedKeys) {
      const v = fromFile.get(k);
      if (v === undefined) continue;
      if (k === 'lfs-bridge.provider' && provider) continue;
      if (k === 'lfs-bridge.root' && rootAsGiven) continue;
      adopted[k] = v;
    }
    // A clone whose .lfsconfig carries the sentinel lfs.url (setup --shared) but no team file.
    const s = !adoptedFrom && !provider && !rootAsGiven ? await readSentinel(top) : undefined;
    if (s) {
      adopted['lfs-bridge.provider'] = s.provider;
      adopted['lfs-bridge.root'] = s.root;
      adoptedFrom = 'lfs.url';
    }
    provider ??= adopted['lfs-bridge.provider'];
    rootAsGiven ??= adopted['lfs-bridge.root'];
    if (!provider || !rootAsGiven) throw missingFlag(provider, rootAsGiven);
  }
  if (!isProviderName(provider)) throw unknownProvider(provider);
  const inProvider = providerEntry(provider).root === 'path';
  let root = inProvider ? cloudRoot(rootAsGiven) : rootAsGiven;
  const mod = await loadProviderModule(provider);
  try {
    const r = await mod.resolveRoot?.(root, { env: o.env ?? process.env, account: o.account, top });
    if (r) {
      root = r.root;
      notes.push(...r.notes);
      if (inProvider) rootAsGiven = r.root; // a folder keeps the form given (relative to the work tree)
    }
  } catch (e) {
    // A root that cannot work stops setup; a check that could not run (the network) is only noted.
    if (!toBridgeError(e).retryable) throw e;
    notes.push(`could not check ${root} with ${provider} (${(e as Error).message}); recorded as given`);
  }
  await checkStore(provider, root, top, o);

  const written: Record<string, string> = {};
  const set = async (key: string, value: string) => {
    await gitOk(['config', '--local', key, value], { cwd: top });
    written[key] = value;
  };
  const cmd = agentCommand();
  await set('lfs.standalonetransferagent', AGENT);
  await set(`${CT}.path`, cmd.path);
  await set(`${CT}.args`, cmd.args);
  await set(`${CT}.concurrent`, 'true');
  await set('lfs-bridge.provider', provider);
  await set('lfs-bridge.root', root);
  const chunk = o.chunkSize ?? adopted['lfs-bridge.chunksize'];
  if (chunk) await set('lfs-bridge.chunksize', String(checkSize(chunk, 'chunk size')));
  if (o.maxRate) await set('lfs-bridge.maxrate', String(checkSize(o.maxRate, 'max rate')));
  for (const [flag, value, key] of [
    ['--download-streams', o.downloadStreams, 'lfs-bridge.downloadstreams'],
    ['--upload-streams', o.uploadStreams, 'lfs-bridge.uploadstreams'],
  ] as const) {
    if (!value) continue;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 64) throw configError(`${flag} takes a whole number from 1 to 64`);
    await set(key, String(n));
  }
  if (o.account) await set('lfs-bridge.account', o.account);
  for (const k of Object.keys(adopted)) {
    if (!(k in written) && k !== 'lfs-bridge.chunksize') await set(k, adopted[k]);
  }
  await ensureGitLfs(top, notes);
  const checkedOut = await finishFailedCheckout(top);
  if (checkedOut) notes.push(`finished the checkout that failed in the clone: ${checkedOut} file(s) checked out`);

  const shared: Record<string, string> = {};
  const lfsconfig: Record<string, string> = {};
  if (o.shared) {
    // Run again with the same values, setup changes nothing and says so (no "commit it" for an unchanged file).
    const before = existsSync(teamFile) ? await gitConfigMap('^lfs-bridge\\.', top, teamFile) : new Map();
    const put = async (key: string, value: string) => {
      if (before.get(key) === value) return;
      await gitOk(['config', '--file', teamFile, key, value], { cwd: top });
      shared[key] = value;
    };
    await put('lfs-bridge.provider', provider);
    await put('lfs-bridge.root', rootAsGiven);
    if (o.chunkSize) await put('lfs-bridge.chunksize', String(checkSize(o.chunkSize, 'chunk size')));
    await writeSentinel(top, provider, rootAsGiven, lfsconfig, notes);
    notes.push(
      Object.keys(shared).length || Object.keys(lfsconfig).length
        ? `commit ${TEAM_FILE} and .lfsconfig: teammates who ran \`lfs-bridge install\` then get the files with a plain git clone`
        : `${TEAM_FILE} and .lfsconfig already record these values: nothing changed`,
    );
  }
  return { top, provider, root, adopted, adoptedFrom, written, shared, lfsconfig, checkedOut, notes };
}

/** lfs.url in .lfsconfig: the sentinel that sends git-lfs to the agent where `lfs-bridge install` ran. */
async function writeSentinel(
  top: string,
  provider: ProviderName,
  root: string,
  written: Record<string, string>,
  notes: string[],
): Promise<void> {
  const file = join(top, '.lfsconfig');
  const url = sentinelUrl(provider, root);
  const before = existsSync(file) ? await git(['config', '--file', file, '--get', 'lfs.url'], { cwd: top }) : null;
  const old = before?.code === 0 ? before.stdout.trim() : undefined;
  if (old === url) return;
  if (old && !parseSentinel(old))
    notes.push(`.lfsconfig had lfs.url = ${old}; replaced: objects now go through lfs-bridge`);
  await gitOk(['config', '--file', file, 'lfs.url', url], { cwd: top });
  written['lfs.url'] = url;
}

/** Tries what a push will do (the provider's own check); refuses with the reason rather than set up a dead store. */
async function checkStore(provider: ProviderName, root: string, top: string, o: SetupOptions): Promise<void> {
  const mod = await loadProviderModule(provider);
  const env = o.env ?? process.env;
  const config = parseConfig(
    new Map([
      ['lfs-bridge.provider', provider],
      ['lfs-bridge.root', root],
    ]),
  );
  if (o.account) config.account = o.account;
  await mod.checkStore?.({ config, env, cwd: top, log: createLogger('setup', env) });
}

/** Which of --provider and --root is missing (neither given nor in the team file), and the command that works. */
function missingFlag(provider: string | undefined, root: string | undefined) {
  const choices = availableProviders.join('|');
  if (provider) {
    const what = isProviderName(provider) && providerEntry(provider).root === 'folder' ? 'folder' : 'root';
    return configError(`--root is missing`, `run lfs-bridge setup --provider ${provider} --root <${what}>`);
  }
  if (root) return configError(`--provider is missing`, `run lfs-bridge setup --provider <${choices}> --root ${root}`);
  return configError(
    `no --provider and --root given, and no ${TEAM_FILE} to adopt them from`,
    `run lfs-bridge setup --provider <${choices}> --root <root>`,
  );
}

function checkSize(v: string, what: string): number {
  try {
    return parseSize(v, what);
  } catch (e) {
    throw configError((e as Error).message);
  }
}

/** A cloud root: an absolute path inside the provider (/lfs/my-repo), or a prefixed id (Dropbox ns:…, id:…). */
function cloudRoot(given: string): string {
  if (given.startsWith('/') || /^[a-z]+:/i.test(given)) return given.replace(/\/+$/, '') || '/';
  return `/${given.replace(/\/+$/, '')}`;
}

/** Filters and the pre-push hook must exist too, or nothing ever reaches the agent. */
async function ensureGitLfs(top: string, notes: string[]): Promise<void> {
  const version = await git(['lfs', 'version'], { cwd: top }).catch(() => null);
  if (version?.code !== 0) {
    notes.push(
      'git-lfs is not installed: install it (Debian/Ubuntu: apt-get install git-lfs; macOS: brew install git-lfs)',
    );
    return;
  }
  const filter = await git(['config', '--get', 'filter.lfs.process'], { cwd: top });
  const hooksDir = (await gitOk(['rev-parse', '--path-format=absolute', '--git-path', 'hooks'], { cwd: top })).trim();
  if (filter.code !== 0 || !existsSync(join(hooksDir, 'pre-push'))) {
    await gitOk(['lfs', 'install', '--local'], { cwd: top });
    notes.push('ran git lfs install --local (filters and hooks for this repository)');
  }
}

export interface RemoveResult {
  top: string;
  removed: string[];
}

/** Undoes setup in .git/config (not the team file, which belongs to the team). */
export async function removeSetup(cwd?: string): Promise<RemoveResult> {
  const top = await workTreeTop(cwd);
  const removed: string[] = [];
  const agent = await git(['config', '--local', '--get', 'lfs.standalonetransferagent'], { cwd: top });
  if (agent.code === 0 && agent.stdout.trim() === AGENT) {
    await gitOk(['config', '--local', '--unset', 'lfs.standalonetransferagent'], { cwd: top });
    removed.push('lfs.standalonetransferagent');
  }
  for (const section of [CT, 'lfs-bridge']) {
    const keys = await gitConfigMap(`^${section.replace(/[.]/g, '\\.')}\\.`, top, join(await gitDir(top), 'config'));
    if (keys.size === 0) continue;
    const r = await git(['config', '--local', '--remove-section', section], { cwd: top });
    if (r.code === 0) removed.push(...keys.keys());
    // subsections like lfs-bridge.dropbox.* are sections of their own
  }
  const sub = await gitConfigMap('^lfs-bridge\\.', top, join(await gitDir(top), 'config'));
  const subsections = new Set([...sub.keys()].map((k) => k.slice(0, k.lastIndexOf('.'))));
  for (const s of subsections) {
    const r = await git(['config', '--local', '--remove-section', s], { cwd: top });
    if (r.code === 0) removed.push(...[...sub.keys()].filter((k) => k.startsWith(`${s}.`)));
  }
  return { top, removed };
}

async function gitDir(top: string): Promise<string> {
  return (await gitOk(['rev-parse', '--path-format=absolute', '--git-dir'], { cwd: top })).trim();
}
