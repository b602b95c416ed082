/**
 * What a person reads when a command fails, through the built CLI: `lfs-bridge: <what failed>` and the fix on a
 * line of its own; no class names, no internal codes, no wrapping at 80 columns; the stack only with
 * LFS_BRIDGE_DEBUG. stderr is compared whole where the text is fixed.
 */
import assert from 'node:assert/strict';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describeRun, type RunResult } from '../helpers/run.js';
import { Sandbox } from '../helpers/sandbox.js';

/** A port on 127.0.0.1 that nothing listens on (taken, then released). */
const closedPort = () =>
  new Promise<number>((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/** Nothing of the old formats: class names, internal codes, causes, oclif's bang. */
function plain(r: RunResult) {
  assert.doesNotMatch(r.stderr, /BridgeError|Code: |Caused by|›/, describeRun('stderr', r));
}

describe('e2e: errors a person can read', function () {
  this.timeout(120_000);
  let sb: Sandbox;
  let repo: string;

  before(async () => {
    sb = await Sandbox.create('errors');
    repo = sb.path('repo');
    await sb.gitOk(sb.root, ['init', '-q', repo]);
  });
  after(async () => sb?.cleanup());

  it('setup --provider local without --root says that --root is missing', async () => {
    const r = await sb.bridge(repo, ['setup', '--provider', 'local']);
    assert.equal(r.code, 1, describeRun('setup', r));
    assert.equal(r.stderr, 'lfs-bridge: --root is missing\nrun lfs-bridge setup --provider local --root <folder>\n');
  });

  it('setup with nothing to go on names both flags and the providers this build has', async () => {
    const r = await sb.bridge(repo, ['setup']);
    assert.equal(r.code, 1, describeRun('setup', r));
    assert.equal(
      r.stderr,
      'lfs-bridge: no --provider and --root given, and no .lfs-bridge to adopt them from\n' +
        'run lfs-bridge setup --provider <local|dropbox> --root <root>\n',
    );
  });

  it('a file-system error in setup names the path and the reason in words', async () => {
    const file = sb.path('a-file');
    await writeFile(file, 'not a folder');
    const r = await sb.bridge(repo, ['setup', '--provider', 'local', '--root', `${file}/store`]);
    assert.equal(r.code, 1, describeRun('setup', r));
    assert.equal(r.stderr, `lfs-bridge: cannot read ${file}/store: a part of the path is not a folder\n`);
  });

  it('outside a repository: one line, no class name, no code', async () => {
    const r = await sb.bridge(sb.root, ['setup', '--provider', 'local', '--root', sb.path('s')]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'lfs-bridge: not inside a git work tree\ncd into your repository first\n');
  });

  it('LFS_BRIDGE_DEBUG adds the stack and the cause', async () => {
    const file = sb.path('another-file');
    await writeFile(file, '');
    const r = await sb.bridge(repo, ['setup', '--provider', 'local', '--root', `${file}/x`], { LFS_BRIDGE_DEBUG: '1' });
    assert.equal(r.code, 1);
    const [first, ...rest] = r.stderr.split('\n');
    assert.equal(first, `lfs-bridge: cannot read ${file}/x: a part of the path is not a folder`);
    assert.match(rest.join('\n'), /ENOTDIR[^\n]*\n\s+at /, 'the stack follows');
  });

  it('a network failure says which host and why, and what to check', async () => {
    const port = await closedPort();
    const r = await sb.bridge(
      repo,
      ['login', 'dropbox', '--paste', '--client-id', 'test-app-key', '--insecure-storage'],
      { LFS_BRIDGE_DROPBOX_ENDPOINT: `http://127.0.0.1:${port}`, DISPLAY: undefined, WAYLAND_DISPLAY: undefined },
      { input: 'a-pasted-code\n' },
    );
    assert.equal(r.code, 1, describeRun('login', r));
    const last = r.stderr.trimEnd().split('\n').pop();
    assert.equal(
      last,
      `lfs-bridge: cannot reach 127.0.0.1:${port}: the connection was refused — check the connection or HTTPS_PROXY`,
    );
    plain(r);
  });

  it('a long message is not wrapped: the Dropbox app-key help keeps its lines whole', async () => {
    const r = await sb.bridge(repo, ['login', 'dropbox', '--no-browser', '--port', '53999', '--insecure-storage']);
    assert.equal(r.code, 1, describeRun('login', r));
    assert.match(r.stderr, /^lfs-bridge: no Dropbox app key configured\./);
    const step4 = r.stderr.split('\n').find((l) => l.includes('4. Settings tab'));
    assert.equal(
      step4,
      '  4. Settings tab → OAuth 2 → Redirect URIs: add http://127.0.0.1:53999/callback (exactly, port and path included; --port N changes it)',
      'a numbered step stays on its own line, whole',
    );
    plain(r);
  });

  it('an unknown --provider lists only the providers this build has; help does too', async () => {
    const r = await sb.bridge(repo, ['setup', '--provider', 'gdrive', '--root', '/x']);
    assert.equal(r.code, 2, describeRun('setup', r));
    assert.equal(
      r.stderr,
      'lfs-bridge: Expected --provider=gdrive to be one of: local, dropbox\nSee more help with --help\n',
    );
    for (const cmd of ['--help', 'setup', 'clone', 'login', 'logout']) {
      const help = await sb.bridgeOk(repo, cmd === '--help' ? [cmd] : [cmd, '--help']);
      assert.doesNotMatch(help.stdout, /gdrive|onedrive|google drive/i, `${cmd} --help`);
    }
    const setupHelp = await sb.bridgeOk(repo, ['setup', '--help']);
    assert.match(setupHelp.stdout, /local\|dropbox/);
    const login = await sb.bridge(repo, ['login', 'onedrive']);
    assert.equal(login.code, 2);
    assert.match(login.stderr, /^lfs-bridge: Expected onedrive to be one of: dropbox\n/);
  });

  it("clone names each object it could not fetch, with git-lfs's reason", async () => {
    const remote = await sb.remote();
    const store = await sb.store();
    const work = await sb.workRepo('work', remote, store, ['--shared']);
    await writeFile(join(work, 'kept.dat'), 'this one stays in the store\n');
    await writeFile(join(work, 'lost.dat'), 'this one goes missing from the store\n');
    await sb.commitAll(work, 'two objects');
    await sb.gitOk(work, ['push', '-q', 'origin', 'HEAD:main']);
    const oid = (await sb.gitOk(work, ['lfs', 'ls-files', '--long'])).stdout
      .split('\n')
      .find((l) => l.endsWith(' lost.dat'))!
      .slice(0, 64);
    await rm(join(store, oid.slice(0, 2), oid.slice(2, 4), oid));

    const r = await sb.bridge(sb.root, ['clone', remote, 'copy']);
    assert.equal(r.code, 1, describeRun('clone', r));
    const dir = sb.path('copy');
    assert.ok(
      r.stderr.endsWith(
        `lfs-bridge: 1 LFS object could not be fetched (the rest of the clone is in ${dir}):\n` +
          `  lost.dat: [404] ${oid} is not in the local store (lfs-bridge.root)\n` +
          `once fixed, run git lfs pull in ${dir}\n`,
      ),
      describeRun('clone', r),
    );
    plain(r);
    assert.ok((await readdir(dir)).includes('kept.dat'));
  });

  it('clone of a URL git cannot clone: git says why, lfs-bridge says what failed', async () => {
    const missing = sb.path('no-such-remote.git');
    const r = await sb.bridge(sb.root, ['clone', missing, 'nothing']);
    assert.equal(r.code, 1, describeRun('clone', r));
    assert.match(r.stderr, /fatal: .*no-such-remote\.git/, "git's own message");
    assert.ok(
      r.stderr.endsWith(`lfs-bridge: git clone ${missing} failed (exit 128): see git's message above\n`),
      describeRun('clone', r),
    );
  });

  it('setup --shared run again with the same values says nothing changed', async () => {
    const dir = sb.path('shared');
    await sb.gitOk(sb.root, ['init', '-q', dir]);
    const store = await sb.store('shared-store');
    const first = await sb.bridgeOk(dir, ['setup', '--provider', 'local', '--root', store, '--shared']);
    assert.match(first.stdout, /Wrote \.lfs-bridge: lfs-bridge\.root/);
    const again = await sb.bridgeOk(dir, ['setup', '--provider', 'local', '--root', store, '--shared']);
    assert.doesNotMatch(again.stdout, /Wrote|commit \.lfs-bridge/, again.stdout);
    assert.match(again.stdout, /\.lfs-bridge and \.lfsconfig already record these values: nothing changed/);
  });
});
