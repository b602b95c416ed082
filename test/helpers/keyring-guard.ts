/**
 * The keyring guard: a test that reads or writes the OS keychain first proves that the keychain it reaches is the
 * throwaway one of scripts/with-keychain.sh, never a person's own (where `login` tests would delete their logins).
 *
 *   import { requireThrowawayKeyring } from './keyring-guard.js';
 *   before(requireThrowawayKeyring);   // in the describe() whose tests touch the keychain
 *
 * The proof is something only that keyring holds: with-keychain.sh stores a random marker secret in the fresh
 * keyring under a random lookup key (LFS_BRIDGE_TEST_KEYRING) and keeps a copy in a 0600 file of its throwaway dir
 * (LFS_BRIDGE_TEST_KEYRING_FILE). The marker is read back through the Secret Service this process reaches and
 * compared. Environment variables alone prove nothing: a person's keyring never holds the marker.
 *
 * Without the proof the guard throws: a loud failure of the hook, never a skip. Processes the tests spawn
 * (Sandbox) get a session bus only once the proof holds (sandboxKeyringEnv).
 */
import { readFile } from 'node:fs/promises';

export const MARKER_SERVICE = 'lfs-bridge-test-keyring';

const HOW =
  'run the tests through `npm test`, `npm run test:unit`, `npm run test:e2e` or ' +
  '`bash scripts/with-keychain.sh npx mocha …`, which give them a throwaway keyring';

let proof: Promise<void> | undefined;

/** Resolves when the keychain this process reaches is with-keychain.sh's throwaway one; rejects loudly otherwise. */
export function requireThrowawayKeyring(): Promise<void> {
  proof ??= prove(process.env);
  return proof;
}

/** True when the proof holds (never throws): for helpers that only decide what to hand to child processes. */
export async function throwawayKeyringProven(): Promise<boolean> {
  return requireThrowawayKeyring().then(
    () => true,
    () => false,
  );
}

/**
 * The environment overrides for processes a test spawns: none when the proof holds, else a session bus address
 * that leads nowhere, so a spawned agent or CLI can never reach a person's keychain (it reports "no keychain").
 */
export async function sandboxKeyringEnv(deadDir: string): Promise<NodeJS.ProcessEnv> {
  if (await throwawayKeyringProven()) return {};
  return { DBUS_SESSION_BUS_ADDRESS: `unix:path=${deadDir}/no-session-bus`, XDG_RUNTIME_DIR: deadDir };
}

async function prove(env: NodeJS.ProcessEnv): Promise<void> {
  const refuse = (why: string) =>
    new Error(`refusing to touch the keychain: ${why}, so it may be a person's own, with their logins: ${HOW}`);
  const key = env.LFS_BRIDGE_TEST_KEYRING;
  const file = env.LFS_BRIDGE_TEST_KEYRING_FILE;
  if (!key || !file) throw refuse('not inside scripts/with-keychain.sh (no keyring marker named)');
  let expected: string;
  try {
    expected = (await readFile(file, 'utf8')).trim();
  } catch (e) {
    throw refuse(`the keyring marker file cannot be read (${(e as Error).message})`);
  }
  if (expected.length < 32) throw refuse('the keyring marker file holds no marker');
  let found: string | null | undefined;
  try {
    const { AsyncEntry } = await import('@napi-rs/keyring');
    found = await withTimeout(new AsyncEntry(MARKER_SERVICE, key).getPassword(), 10_000);
  } catch (e) {
    if (/no (matching )?entry/i.test((e as Error).message)) found = null;
    else throw refuse(`the keychain this process reaches did not answer (${(e as Error).message.split('\n')[0]})`);
  }
  if (found !== expected) {
    throw refuse('the keychain this process reaches does not hold the throwaway keyring marker');
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
