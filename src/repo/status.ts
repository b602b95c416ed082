/**
 * `lfs-bridge status`: is this repository really wired to the agent (as git-lfs sees it), is the keychain there,
 * which accounts are logged in, and which transfers wait to be resumed.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { findLfsPaths } from '../bridge/lfsdir.js';
import { pendingDownloads } from '../bridge/pending-downloads.js';
import type { ResumeRecord } from '../bridge/resume.js';
import { type BridgeConfig, loadConfig } from '../config/index.js';
import { parseSentinel, SENTINEL_BASE } from '../config/sentinel.js';
import { git, gitConfigMap } from '../git.js';
import { createLogger } from '../log.js';
import { loadProviderModule } from '../providers/index.js';
import { installed } from './install.js';
import { AGENT } from './setup.js';

/** Partials untouched this long are flagged stale (upload sessions of the cloud APIs live about a week). */
export const STALE_MS = 7 * 24 * 3600_000;

export interface PartialInfo {
  oid: string;
  kind: 'download' | 'upload';
  bytesDone: number;
  total?: number;
  ageMs: number;
  stale: boolean;
  where: string;
}

export interface StatusInfo {
  /** Nothing below is a problem; `status` exits non-zero otherwise. */
  ok: boolean;
  repo: { top: string } | null;
  wiring: {
    provider?: string;
    root?: string;
    configError?: string;
    agentRegistered: boolean;
    agentCommand?: string;
    agentCommandOk: boolean;
    gitLfsVersion?: string;
    uploadTransfers?: string;
    downloadTransfers?: string;
    /** git-lfs will really call lfs-bridge for both directions. */
    effective: boolean;
    /** The LFS endpoint git-lfs uses here (a sentinel URL when the wiring comes from lfs-bridge install). */
    endpoint?: string;
    problems: string[];
  };
  /** What a push will do, tried (the provider's checkStore): the store is reachable and writable, the login works. */
  store: { checked: boolean; ok: boolean; problem?: string };
  /** `lfs-bridge install` on this machine (global keys): not a problem when missing, a plain clone needs it. */
  install: { ok: boolean; missing: string[] };
  keychain: { available: boolean; kind?: string; detail?: string };
  /** LFS_BRIDGE_<P>_ENDPOINT overrides in effect (`url`), or refused (`error`). */
  endpoints: { provider: string; variable: string; url?: string; error?: string }[];
  accounts: {
    provider: string;
    account: string;
    email?: string;
    displayName?: string;
    /** The override the login was made under. */
    endpoint?: string;
    used?: number;
    allocated?: number;
    problem?: string;
  }[];
  resumes: {
    provider: string;
    account: string;
    oid: string;
    offset: number;
    size: number;
    ageMs: number;
    stale: boolean;
  }[];
  partials: PartialInfo[];
}

export async function collectStatus(
  o: { cwd?: string; env?: NodeJS.ProcessEnv; now?: number } = {},
): Promise<StatusInfo> {
  const env = o.env ?? process.env;
  const now = o.now ?? Date.now();
  const top = await git(['rev-parse', '--show-toplevel'], { cwd: o.cwd });
  const repo = top.code === 0 ? { top: top.stdout.trim() } : null;
  const wiring = await collectWiring(repo?.top, o.cwd);
  const keychain: StatusInfo['keychain'] = { available: false };
  const accounts: StatusInfo['accounts'] = [];
  const resumes: StatusInfo['resumes'] = [];
  const endpoints = await collectEndpoints(env);
  const ks = await import('../keychain/index.js');
  try {
    const store = await ks.openSecretStore({ env });
    keychain.available = true;
    keychain.kind = store.kind;
    accounts.push(...(await collectAccounts(env, wiring.provider)));
    for (const { secret } of await store.list('resume:')) {
      try {
        const r = JSON.parse(secret) as ResumeRecord;
        const ageMs = now - r.createdAt;
        resumes.push({
          provider: r.provider,
          account: r.account,
          oid: r.oid,
          offset: r.offset,
          size: r.size,
          ageMs,
          stale: ageMs > STALE_MS,
        });
      } catch {
        // unreadable record: the upload path deletes it when it meets it
      }
    }
  } catch (e) {
    keychain.detail = (e as Error).message;
  }
  const partials = repo ? await collectPartials(repo.top, wiring, env, now) : [];
  const store = await checkStore(wiring, repo?.top, env);
  const install = await installed(env);
  const ok =
    wiring.problems.length === 0 &&
    (!store.checked || store.ok) &&
    !accounts.some((a) => a.provider === wiring.provider && a.problem) &&
    !endpoints.some((x) => x.error);
  return { ok, repo, wiring, store, install, keychain, endpoints, accounts, resumes, partials };
}

/** The provider's own check of the store, bounded in time: an unreachable server must not hang `status`. */
async function checkStore(
  w: StatusInfo['wiring'],
  top: string | undefined,
  env: NodeJS.ProcessEnv,
): Promise<StatusInfo['store']> {
  if (!top || !w.provider || w.configError) return { checked: false, ok: false };
  try {
    const config = await loadConfig(top);
    const mod = await loadProviderModule(config.provider);
    await withTimeout(mod.checkStore?.({ config, env, cwd: top, log: createLogger('status', env) }), 30_000);
    return { checked: true, ok: true };
  } catch (e) {
    return { checked: true, ok: false, problem: (e as Error).message };
  }
}

async function collectEndpoints(env: NodeJS.ProcessEnv): Promise<StatusInfo['endpoints']> {
  const { checkEndpoint, endpointVar } = await import('../http/index.js');
  const { oauthProviders } = await import('../oauth/index.js');
  const out: StatusInfo['endpoints'] = [];
  for (const provider of oauthProviders) {
    const variable = endpointVar(provider);
    const v = env[variable];
    if (!v) continue;
    try {
      out.push({ provider, variable, url: checkEndpoint(provider, v) });
    } catch (e) {
      out.push({ provider, variable, error: (e as Error).message });
    }
  }
  return out;
}

/** Logged-in accounts with who they are; space usage for the provider this repository uses (one request each). */
async function collectAccounts(env: NodeJS.ProcessEnv, active?: string): Promise<StatusInfo['accounts']> {
  const { listAccounts, oauthProviders } = await import('../oauth/index.js');
  const out: StatusInfo['accounts'] = [];
  for (const provider of oauthProviders) {
    for (const a of await listAccounts(provider, { env })) {
      const row: StatusInfo['accounts'][number] = {
        provider,
        account: a.account,
        email: a.email,
        displayName: a.displayName,
        endpoint: a.endpoint,
      };
      if (provider === active) {
        try {
          const mod = await loadProviderModule(provider);
          const u = await withTimeout(mod.usage?.({ env, account: a.account }), 15_000);
          if (u) Object.assign(row, u);
        } catch (e) {
          row.problem = (e as Error).message;
        }
      }
      out.push(row);
    }
  }
  return out;
}

function withTimeout<T>(p: Promise<T> | undefined, ms: number): Promise<T | undefined> {
  if (!p) return Promise.resolve(undefined);
  return Promise.race([
    p,
    new Promise<undefined>((_, rej) => setTimeout(() => rej(new Error('no answer')), ms).unref()),
  ]);
}

async function collectWiring(top: string | undefined, cwd?: string): Promise<StatusInfo['wiring']> {
  const w: StatusInfo['wiring'] = { agentRegistered: false, agentCommandOk: false, effective: false, problems: [] };
  if (!top) {
    w.problems.push('not inside a git work tree');
    return w;
  }
  let config: BridgeConfig | undefined;
  try {
    config = await loadConfig(top);
    w.provider = config.provider;
    w.root = config.root;
  } catch (e) {
    w.configError = (e as Error).message;
    w.problems.push(w.configError);
  }
  const all = await gitConfigMap('^lfs\\.', top);
  w.agentRegistered = all.get('lfs.standalonetransferagent') === AGENT;
  const scoped = all.get(`lfs.${SENTINEL_BASE}.standalonetransferagent`) === AGENT;
  const path = all.get(`lfs.customtransfer.${AGENT}.path`);
  const args = all.get(`lfs.customtransfer.${AGENT}.args`);
  if (path) {
    w.agentCommand = `${path} ${args ?? ''}`.trim();
    w.agentCommandOk = existsSync(path);
    const script = /^'?(.+?)'? transfer$/.exec(args ?? '')?.[1];
    if (script && !existsSync(script)) w.agentCommandOk = false;
    if (!w.agentCommandOk)
      w.problems.push(`the agent command does not exist: ${w.agentCommand} — run lfs-bridge setup again`);
  }
  // Mixed-case keys are silently ignored by git-lfs 3.3 (it matches the literal lowercase name).
  const raw = await git(['config', '--name-only', '--list', '--show-scope'], { cwd: top });
  if (/\blfs\.customTransfer\./.test(raw.stdout)) {
    w.problems.push('a key spelled lfs.customTransfer.* is ignored by git-lfs 3.3: it must be lowercase');
  }
  const lfsconfig = join(top, '.lfsconfig');
  if (existsSync(lfsconfig)) {
    const unsafe = await gitConfigMap('^lfs\\.(standalonetransferagent|customtransfer\\.)', top, lfsconfig);
    if (unsafe.size)
      w.problems.push(`.lfsconfig carries ${[...unsafe.keys()].join(', ')}, which git-lfs ignores there`);
    const ours = await gitConfigMap('^lfs-bridge\\.', top, lfsconfig);
    if (ours.size) {
      w.problems.push(
        '.lfsconfig carries lfs-bridge.* keys, so git-lfs warns on every command: move them with lfs-bridge setup --shared and delete them from .lfsconfig',
      );
    }
  }
  const env = await git(['lfs', 'env'], { cwd: cwd ?? top }).catch(() => null);
  w.endpoint = env?.code === 0 ? /^Endpoint=(\S+)/m.exec(env.stdout)?.[1] : undefined;
  // A plain clone where lfs-bridge install ran: the sentinel lfs.url meets the global URL-scoped key.
  if (!w.agentRegistered && scoped && w.endpoint && parseSentinel(w.endpoint)) w.agentRegistered = true;
  if (!w.agentRegistered) {
    const other = all.get('lfs.standalonetransferagent');
    if (other) w.problems.push(`lfs.standalonetransferagent is "${other}", not ${AGENT}`);
    else if (w.endpoint && parseSentinel(w.endpoint))
      w.problems.push(
        'lfs-bridge install has not run on this machine: run lfs-bridge install (or lfs-bridge setup here)',
      );
    else if (!w.configError) w.problems.push('not set up: run lfs-bridge setup');
  }
  if (env?.code !== 0) {
    w.problems.push('git-lfs is not installed or does not run (git lfs env failed)');
    return w;
  }
  w.gitLfsVersion = /git-lfs\/(\S+)/.exec(env.stdout)?.[1];
  w.uploadTransfers = /^UploadTransfers=(.*)$/m.exec(env.stdout)?.[1];
  w.downloadTransfers = /^DownloadTransfers=(.*)$/m.exec(env.stdout)?.[1];
  const lists = (v?: string) => (v ?? '').split(',').map((s) => s.trim());
  const listed = lists(w.uploadTransfers).includes(AGENT) && lists(w.downloadTransfers).includes(AGENT);
  if (w.agentRegistered && !listed) w.problems.push(`git lfs env does not list ${AGENT} as a transfer agent`);
  w.effective = w.agentRegistered && listed && w.agentCommandOk && !w.configError;
  return w;
}

async function collectPartials(
  top: string,
  wiring: StatusInfo['wiring'],
  env: NodeJS.ProcessEnv,
  now: number,
): Promise<PartialInfo[]> {
  const out: PartialInfo[] = [];
  const add = (
    kind: PartialInfo['kind'],
    p: { oid: string; bytesDone: number; total?: number; mtimeMs: number },
    where: string,
  ) => {
    const ageMs = now - p.mtimeMs;
    out.push({ oid: p.oid, kind, bytesDone: p.bytesDone, total: p.total, ageMs, stale: ageMs > STALE_MS, where });
  };
  try {
    const { incomplete } = await findLfsPaths(top);
    for (const p of await pendingDownloads(incomplete)) add('download', p, incomplete);
  } catch {
    // no LFS dir yet
  }
  if (wiring.provider && !wiring.configError) {
    try {
      const config = await loadConfig(top);
      const mod = await loadProviderModule(config.provider);
      for (const p of (await mod.pending?.({ config, env, cwd: top, log: createLogger('status', env) })) ?? [])
        add('upload', p, p.where);
    } catch {
      // the store's own check reports what is wrong with it
    }
  }
  return out;
}
