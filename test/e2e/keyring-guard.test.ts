/**
 * The suite never touches a person's keychain: a second gnome-keyring in its own D-Bus session stands for a
 * person's, holding a Dropbox login; the suite's keychain tests run with that session's address in their
 * environment and must refuse (test/helpers/keyring-guard.ts), leaving the login as it was.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireThrowawayKeyring } from '../helpers/keyring-guard.js';
import { run } from '../helpers/run.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const THIS = relative(ROOT, fileURLToPath(import.meta.url));
/** What a test file does when it reads or writes the OS keychain itself. */
const TOUCHES_KEYCHAIN = /\bopenSecretStore\b|\bprobeKeychain\b|@napi-rs\/keyring/;
const GUARDED = /from '(\.\.\/)+helpers\/keyring-guard\.js'/;

async function testFiles(dir = join(ROOT, 'test')): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await testFiles(p)));
    else if (e.name.endsWith('.test.ts')) out.push(relative(ROOT, p));
  }
  return out.sort();
}

/** A D-Bus session with its own unlocked gnome-keyring, alive until stop(). */
interface PersonalSession {
  env: NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

async function personalSession(dir: string): Promise<PersonalSession> {
  const script = `
    set -e
    export XDG_DATA_HOME="$1/data" XDG_RUNTIME_DIR="$1/run"
    mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
    eval "$(printf person | gnome-keyring-daemon --unlock --components=secrets 2>/dev/null)"
    echo "BUS=$DBUS_SESSION_BUS_ADDRESS"
    cat >/dev/null`;
  const child: ChildProcess = spawn('dbus-run-session', ['--', 'bash', '-c', script, 'personal', dir], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  let out = '';
  child.stdout!.on('data', (b) => {
    out += b;
  });
  const deadline = Date.now() + 30_000;
  while (!/^BUS=(.+)$/m.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no personal D-Bus session: ${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const bus = /^BUS=(.+)$/m.exec(out)![1]!;
  // The person's environment: their bus, and none of the throwaway keyring's variables.
  const env: NodeJS.ProcessEnv = { ...process.env, DBUS_SESSION_BUS_ADDRESS: bus, XDG_RUNTIME_DIR: join(dir, 'run') };
  delete env.LFS_BRIDGE_TEST_KEYRING;
  delete env.LFS_BRIDGE_TEST_KEYRING_FILE;
  delete env.GNOME_KEYRING_CONTROL;
  return {
    env,
    stop: async () => {
      if (child.exitCode === null) {
        child.stdin!.end();
        await once(child, 'close');
      }
    },
  };
}

/** Runs `code` (an ES module) in a node child with `env`; its stdout as JSON. */
async function node(code: string, env: NodeJS.ProcessEnv): Promise<unknown> {
  const r = await run(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, env, timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.output);
  return JSON.parse(r.stdout);
}

/** Every lfs-bridge entry of the keychain `env` reaches, account → secret. */
const entries = (env: NodeJS.ProcessEnv) =>
  node(
    `import { findCredentialsAsync } from '@napi-rs/keyring';
     const all = await findCredentialsAsync('lfs-bridge', undefined);
     console.log(JSON.stringify(Object.fromEntries(all.map((c) => [c.account, c.password]))));`,
    env,
  ) as Promise<Record<string, string>>;

interface MochaJson {
  stats: { passes: number; failures: number; pending: number };
  failures: { fullTitle: string; file?: string; err: { message?: string } }[];
}

/** The test files run by mocha in a child with `env`, its JSON report. */
async function mocha(files: string[], env: NodeJS.ProcessEnv, report: string): Promise<MochaJson> {
  const r = await run(
    process.execPath,
    [
      join(ROOT, 'node_modules/mocha/bin/mocha.js'),
      '--reporter',
      'json',
      '--reporter-option',
      `output=${report}`,
      ...files,
    ],
    { cwd: ROOT, env, timeoutMs: 300_000 },
  );
  assert.notEqual(r.code, 0, `the keychain tests ran against the person's keyring:\n${r.output}`);
  return JSON.parse(await readFile(report, 'utf8')) as MochaJson;
}

describe("e2e: the suite never touches a person's keychain", function () {
  this.timeout(600_000);
  let dir: string;
  let person: PersonalSession | undefined;
  const login = JSON.stringify({ access: 'sl.person-access', refresh: 'person-refresh', account: 'me@example.com' });

  before(async () => {
    await requireThrowawayKeyring(); // this test itself stores and reads entries (in a keyring of its own)
    dir = await mkdtemp(join(tmpdir(), 'lfsb-person-'));
    person = await personalSession(dir);
    await node(
      `import { AsyncEntry } from '@napi-rs/keyring';
       await new AsyncEntry('lfs-bridge', 'token:dropbox:me@example.com').setPassword(${JSON.stringify(login)});
       console.log('{}');`,
      person.env,
    );
    assert.deepEqual(await entries(person.env), { 'token:dropbox:me@example.com': login });
  });
  after(async () => {
    await person?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('every test file that reads or writes the keychain uses the keyring guard', async () => {
    const unguarded: string[] = [];
    for (const f of await testFiles()) {
      if (f === THIS) continue;
      const text = await readFile(join(ROOT, f), 'utf8');
      if (TOUCHES_KEYCHAIN.test(text) && !GUARDED.test(text)) unguarded.push(f);
    }
    assert.deepEqual(unguarded, [], 'import { requireThrowawayKeyring } from test/helpers/keyring-guard.ts');
  });

  it("a process a test starts from its Sandbox cannot reach the person's keyring (no guard asked)", async () => {
    // A test that forgot the guard: it runs, but what it spawns gets a session bus address that leads nowhere.
    const spec = join(dir, 'forgot-the-guard.test.ts');
    await writeFile(
      spec,
      `import { spawnSync } from 'node:child_process';
       import { Sandbox } from ${JSON.stringify(join(ROOT, 'test/helpers/sandbox.ts'))};
       it('spawns a process that writes a login', async () => {
         const sb = await Sandbox.create('forgot');
         try {
           const write = "import { AsyncEntry } from '@napi-rs/keyring'; " +
             "await new AsyncEntry('lfs-bridge', 'token:dropbox:intruder@example.com').setPassword('x');";
           const r = spawnSync(process.execPath, ['--input-type=module', '-e', write], { cwd: ${JSON.stringify(ROOT)}, env: sb.env });
           console.log('the write exited ' + r.status);
         } finally {
           await sb.cleanup();
         }
       });`,
    );
    const r = await run(process.execPath, [join(ROOT, 'node_modules/mocha/bin/mocha.js'), spec], {
      cwd: ROOT,
      env: person!.env,
      timeoutMs: 120_000,
    });
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /the write exited [1-9]/);
    assert.deepEqual(await entries(person!.env), { 'token:dropbox:me@example.com': login }, "the person's keyring");
  });

  for (const how of ['a plain `npx mocha` on their desktop', 'the throwaway keyring named, but their bus'] as const)
    it(`the keychain tests refuse with the person's bus (${how}); the person's login is intact`, async () => {
      const files: string[] = [];
      for (const f of await testFiles()) {
        if (f !== THIS && GUARDED.test(await readFile(join(ROOT, f), 'utf8'))) files.push(f);
      }
      assert.ok(files.length >= 4, `guarded files: ${files.join(', ')}`);
      const env =
        how === 'a plain `npx mocha` on their desktop'
          ? person!.env
          : // everything of with-keychain.sh's environment except the bus: the marker does not answer there
            { ...process.env, DBUS_SESSION_BUS_ADDRESS: person!.env.DBUS_SESSION_BUS_ADDRESS };
      const report = await mocha(files, env, join(dir, `report-${files.length}-${how.length}.json`));
      assert.deepEqual(await entries(person!.env), { 'token:dropbox:me@example.com': login }, "the person's keyring");
      const refusals = report.failures.filter((f) => /refusing to touch the keychain/.test(f.err.message ?? ''));
      const refusedFiles = new Set(refusals.map((f) => f.file && relative(ROOT, f.file)));
      assert.deepEqual(
        files.filter((f) => !refusedFiles.has(f)),
        [],
        `every guarded file refuses loudly; failures:\n${report.failures.map((f) => `${f.fullTitle}: ${f.err.message}`).join('\n')}`,
      );
      assert.equal(report.stats.pending, 0, 'a refusal is a failure, not a skip');
    });
});
