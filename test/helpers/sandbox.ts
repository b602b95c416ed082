/**
 * A private world per test: a temp dir with its own HOME (git identity, `git lfs install`), XDG dirs,
 * GIT_CONFIG_NOSYSTEM=1 and none of the caller's GIT_* or LFS_BRIDGE_* variables, so neither the real user's
 * config nor a surrounding git command can leak in. Bare remotes, stores and work trees are made inside it.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sandboxKeyringEnv } from './keyring-guard.js';
import { BIN, type RunOptions, type RunResult, run, runOk } from './run.js';

export type Env = Record<string, string | undefined>;

/** The inherited environment minus anything that could point git, git-lfs or lfs-bridge elsewhere. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(GIT_|LFS_BRIDGE_|XDG_CONFIG_HOME$|XDG_STATE_HOME$|XDG_CACHE_HOME$)/.test(k)) continue;
    env[k] = v;
  }
  return env;
}

export class Sandbox {
  readonly env: NodeJS.ProcessEnv;

  private constructor(
    readonly root: string,
    readonly home: string,
    keyring: NodeJS.ProcessEnv,
  ) {
    this.env = {
      ...baseEnv(),
      ...keyring,
      HOME: home,
      XDG_CONFIG_HOME: join(home, '.config'),
      XDG_STATE_HOME: join(home, '.local', 'state'),
      XDG_CACHE_HOME: join(home, '.cache'),
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_TERMINAL_PROMPT: '0',
      LC_ALL: 'C',
      LANG: 'C',
    };
  }

  static async create(tag = 'e2e'): Promise<Sandbox> {
    const root = await mkdtemp(join(tmpdir(), `lfs-bridge-${tag}-`));
    const home = join(root, 'home');
    await mkdir(home);
    // Children reach the session bus (the keychain) only when it is proven the throwaway one (keyring-guard.ts).
    const noKeyring = join(root, 'no-keyring');
    await mkdir(noKeyring, { mode: 0o700 });
    const sb = new Sandbox(root, home, await sandboxKeyringEnv(noKeyring));
    await writeFile(
      join(home, '.gitconfig'),
      [
        '[user]',
        '\tname = LFS Bridge Test',
        '\temail = e2e@lfs-bridge.invalid',
        '[init]',
        '\tdefaultBranch = main',
        '[advice]',
        '\tdetachedHead = false',
        // Where the agent is not installed, git-lfs would look up the sentinel host (config/sentinel.ts) in DNS:
        // a refused loopback proxy keeps every test on 127.0.0.1.
        '[http "https://lfs-bridge.invalid/"]',
        '\tproxy = http://127.0.0.1:9',
        '',
      ].join('\n'),
    );
    await runOk('git', ['lfs', 'install', '--skip-repo'], { cwd: root, env: sb.env });
    return sb;
  }

  path(...parts: string[]): string {
    return join(this.root, ...parts);
  }

  /** The env with extra variables (undefined removes one). */
  with(extra: Env = {}): NodeJS.ProcessEnv {
    const env = { ...this.env };
    for (const [k, v] of Object.entries(extra)) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
    return env;
  }

  git(cwd: string, args: string[], extra: Env = {}, o: Partial<RunOptions> = {}): Promise<RunResult> {
    return run('git', args, { ...o, cwd, env: this.with(extra) });
  }

  gitOk(cwd: string, args: string[], extra: Env = {}, o: Partial<RunOptions> = {}): Promise<RunResult> {
    return runOk('git', args, { ...o, cwd, env: this.with(extra) });
  }

  /** The built CLI: node bin/run.js <args>. */
  bridge(cwd: string, args: string[], extra: Env = {}, o: Partial<RunOptions> = {}): Promise<RunResult> {
    return run(process.execPath, [BIN, ...args], { ...o, cwd, env: this.with(extra) });
  }

  bridgeOk(cwd: string, args: string[], extra: Env = {}, o: Partial<RunOptions> = {}): Promise<RunResult> {
    return runOk(process.execPath, [BIN, ...args], { ...o, cwd, env: this.with(extra) });
  }

  /** A bare repository to push to. */
  async remote(name = 'remote.git'): Promise<string> {
    const dir = this.path(name);
    await this.gitOk(this.root, ['init', '-q', '--bare', dir]);
    return dir;
  }

  /** An empty folder for the `local` provider. */
  async store(name = 'store'): Promise<string> {
    const dir = this.path(name);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /**
   * A work tree with `origin` = remote, wired by `lfs-bridge setup --provider local --root store` (plus any extra
   * setup flags), tracking *.dat, with .gitattributes committed.
   */
  async workRepo(name: string, remote: string, store: string, setupFlags: string[] = []): Promise<string> {
    const dir = this.path(name);
    await this.gitOk(this.root, ['init', '-q', dir]);
    await this.gitOk(dir, ['remote', 'add', 'origin', remote]);
    await this.bridgeOk(dir, ['setup', '--provider', 'local', '--root', store, ...setupFlags]);
    await this.gitOk(dir, ['lfs', 'track', '*.dat']);
    await this.gitOk(dir, [
      'add',
      '.gitattributes',
      ...(setupFlags.includes('--shared') ? ['.lfs-bridge', '.lfsconfig'] : []),
    ]);
    await this.gitOk(dir, ['commit', '-q', '-m', 'track *.dat']);
    return dir;
  }

  /** `GIT_LFS_SKIP_SMUDGE=1 git clone`, then (if a store is given) `lfs-bridge setup` against it. */
  async clone(remote: string, name: string, store?: string): Promise<string> {
    const dir = this.path(name);
    await this.gitOk(this.root, ['clone', '-q', remote, dir], { GIT_LFS_SKIP_SMUDGE: '1' });
    if (store) await this.bridgeOk(dir, ['setup', '--provider', 'local', '--root', store]);
    return dir;
  }

  /** `git add -A && git commit`. */
  async commitAll(dir: string, message: string): Promise<void> {
    await this.gitOk(dir, ['add', '-A']);
    await this.gitOk(dir, ['commit', '-q', '-m', message]);
  }

  /** `git lfs env` as key → value (LocalMediaDir, UploadTransfers, ...). */
  async lfsEnv(cwd: string): Promise<Map<string, string>> {
    const r = await this.gitOk(cwd, ['lfs', 'env']);
    const map = new Map<string, string>();
    for (const line of r.stdout.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0 && !line.startsWith('git config')) map.set(line.slice(0, eq), line.slice(eq + 1));
    }
    return map;
  }

  async cleanup(): Promise<void> {
    await rm(this.root, { recursive: true, force: true, maxRetries: 3 });
  }
}
