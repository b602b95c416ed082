/**
 * The only module that touches the OS keychain. Secrets (tokens, upload-session handles) live under the service
 * `lfs-bridge`; accounts are `token:<provider>:<account>` and `resume:<provider>:<account>:<destination>:<oid>`.
 *
 * @napi-rs/keyring (prebuilt, no compiler) talks to the Secret Service on Linux, Keychain on macOS and the
 * Credential Manager on Windows. It is imported lazily: `transfer` with the local provider never loads it.
 * With --insecure-storage / LFS_BRIDGE_INSECURE_STORAGE=1 (opt-in, like gh) a 0600 file in the user's config dir
 * is used instead.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { configError } from '../errors.js';

export const SERVICE = 'lfs-bridge';

export interface SecretStore {
  /** 'keychain' or 'file' (insecure opt-in), for status. */
  readonly kind: 'keychain' | 'file';
  get(account: string): Promise<string | null>;
  set(account: string, secret: string): Promise<void>;
  delete(account: string): Promise<boolean>;
  /** Entries whose account starts with `prefix`. */
  list(prefix: string): Promise<{ account: string; secret: string }[]>;
}

const truthy = (v: string | undefined) => !!v && v !== '0' && v.toLowerCase() !== 'false';

export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (process.platform === 'win32') return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), 'lfs-bridge');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'lfs-bridge');
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'lfs-bridge');
}

export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (process.platform !== 'linux') return join(configDir(env), 'state');
  return join(env.XDG_STATE_HOME || join(homedir(), '.local', 'state'), 'lfs-bridge');
}

/** Why a keychain is missing, with the fix; null when it answers. */
export async function probeKeychain(env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  if (process.platform === 'linux') {
    // The Secret Service lives on the session bus. Without one there is nothing to talk to (and some keyring
    // bindings then fall back to the kernel keyutils store, which a reboot empties): treat it as no keychain.
    const uid = process.getuid?.() ?? 0;
    if (!env.DBUS_SESSION_BUS_ADDRESS && !existsSync(`/run/user/${uid}/bus`)) {
      return 'no D-Bus session bus, so no Secret Service (gnome-keyring, KeePassXC) to keep secrets in';
    }
  }
  try {
    const { findCredentialsAsync } = await import('@napi-rs/keyring');
    await withTimeout(findCredentialsAsync(SERVICE, undefined), 10_000);
    return null;
  } catch (e) {
    return `the OS keychain did not answer (${firstLine((e as Error).message)})`;
  }
}

const firstLine = (s: string) => s.split('\n')[0].trim();

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(
      () => reject(new Error(`no answer within ${ms / 1000} s (locked keyring waiting for a prompt?)`)),
      ms,
    );
    t.unref();
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

class KeyringStore implements SecretStore {
  readonly kind = 'keychain' as const;
  private mod = import('@napi-rs/keyring');
  async get(account: string) {
    const { AsyncEntry } = await this.mod;
    try {
      return (await new AsyncEntry(SERVICE, account).getPassword()) ?? null;
    } catch (e) {
      if (/no (matching )?entry/i.test((e as Error).message)) return null;
      throw e;
    }
  }
  async set(account: string, secret: string) {
    const { AsyncEntry } = await this.mod;
    await new AsyncEntry(SERVICE, account).setPassword(secret);
  }
  async delete(account: string) {
    const { AsyncEntry } = await this.mod;
    try {
      return await new AsyncEntry(SERVICE, account).deleteCredential();
    } catch (e) {
      if (/no (matching )?entry/i.test((e as Error).message)) return false;
      throw e;
    }
  }
  async list(prefix: string) {
    const { findCredentialsAsync } = await this.mod;
    const all = await findCredentialsAsync(SERVICE, undefined);
    return all.filter((c) => c.account.startsWith(prefix)).map((c) => ({ account: c.account, secret: c.password }));
  }
}

/** The opt-in plain-file store: one JSON map, mode 0600, written atomically. */
export class FileStore implements SecretStore {
  readonly kind = 'file' as const;
  constructor(readonly path: string) {}
  private async load(): Promise<Record<string, string>> {
    try {
      return JSON.parse(await readFile(this.path, 'utf8'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw e;
    }
  }
  private async save(map: Record<string, string>) {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const tmp = `${this.path}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(map, null, 1), { mode: 0o600 });
    await chmod(tmp, 0o600);
    await rename(tmp, this.path);
  }
  async get(account: string) {
    return (await this.load())[account] ?? null;
  }
  async set(account: string, secret: string) {
    const m = await this.load();
    m[account] = secret;
    await this.save(m);
  }
  async delete(account: string) {
    const m = await this.load();
    if (!(account in m)) return false;
    delete m[account];
    await this.save(m);
    return true;
  }
  async list(prefix: string) {
    return Object.entries(await this.load())
      .filter(([k]) => k.startsWith(prefix))
      .map(([account, secret]) => ({ account, secret }));
  }
}

export interface OpenOptions {
  env?: NodeJS.ProcessEnv;
  /** --insecure-storage given on the command line. */
  insecure?: boolean;
}

export const insecureOptIn = (o: OpenOptions) =>
  o.insecure || truthy((o.env ?? process.env).LFS_BRIDGE_INSECURE_STORAGE);

const cached = new Map<string, Promise<SecretStore>>();

/**
 * The keychain, or the opted-in file store. Throws a Config error naming both fixes when neither is available.
 */
export function openSecretStore(o: OpenOptions = {}): Promise<SecretStore> {
  const key = insecureOptIn(o) ? `file:${configDir(o.env ?? process.env)}` : 'keychain';
  let p = cached.get(key);
  if (!p) {
    p = open(o);
    cached.set(key, p);
    p.catch(() => cached.delete(key)); // a keychain that appears later (unlocked, started) is found next time
  }
  return p;
}

/** Forget the cached stores (tests switch environments). */
export function resetSecretStore(): void {
  cached.clear();
}

async function open(o: OpenOptions): Promise<SecretStore> {
  const env = o.env ?? process.env;
  if (insecureOptIn(o)) return new FileStore(join(configDir(env), 'secrets.json'));
  const why = await probeKeychain(env);
  if (why) {
    throw configError(
      `no keychain: ${why}. Start a Secret Service (on a desktop: gnome-keyring; headless: ` +
        '`dbus-run-session -- sh -c "echo PASSWORD | gnome-keyring-daemon --unlock; lfs-bridge …"`), or opt in to a ' +
        'plain 0600 file with --insecure-storage or LFS_BRIDGE_INSECURE_STORAGE=1',
    );
  }
  return new KeyringStore();
}
