/**
 * A read-only LFS storage, met by an unprivileged user (real git + git-lfs + the agent, a local store): root
 * prepares the repositories, hands them to `nobody` but leaves `.git/lfs` root's (read-only for nobody), and runs
 * git as nobody (setpriv). A pull fails with a clear error naming the folder and loses nothing; a push, which only
 * reads there, works. Needs root to switch users: CI runs as root; elsewhere this file is skipped (the one
 * documented platform case here).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, realpathSync, statSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { MiB, sha256, writeRandomFile } from '../helpers/files.js';
import { itWhere } from '../helpers/platform.js';
import { CLI_DIR, describeRun, run } from '../helpers/run.js';
import { Sandbox } from '../helpers/sandbox.js';

const isRoot = process.getuid?.() === 0;
const stored = (store: string, oid: string) => join(store, oid.slice(0, 2), oid.slice(2, 4), oid);

describe('e2e: a read-only LFS storage, as an unprivileged user', function () {
  this.timeout(240_000);
  let sb: Sandbox;

  /** Folders given the search bit for others so that nobody reaches the CLI under test; restored afterwards. */
  const opened: [string, number][] = [];
  before(() => {
    if (!isRoot) return; // the cases below are platform cases: root only
    chmodSync(CLI_DIR, 0o755); // the private copy of the CLI under test: nobody must be able to run it
    // The CLI (or its node_modules, linked from the checkout) may sit below a folder only root may enter (a
    // checkout made in `mktemp -d`): let others pass through every folder above it, nothing more.
    for (const target of [CLI_DIR, realpathSync(join(CLI_DIR, 'node_modules'))]) {
      for (let d = target; ; d = dirname(d)) {
        const mode = statSync(d).mode & 0o7777;
        if ((mode & 0o001) === 0 && !opened.some(([x]) => x === d)) {
          opened.push([d, mode]);
          chmodSync(d, mode | 0o001);
        }
        if (dirname(d) === d) break;
      }
    }
  });
  after(() => {
    for (const [d, mode] of opened.reverse()) chmodSync(d, mode);
  });
  beforeEach(async () => {
    sb = await Sandbox.create('readonly');
  });
  afterEach(() => sb.cleanup());

  /** Everything to nobody, then `lfs` back to root, readable but not writable by others. */
  const handOver = (lfs: string) => {
    execFileSync('chown', ['-R', 'nobody:nogroup', sb.root]);
    execFileSync('chown', ['-R', 'root:root', lfs]);
    execFileSync('chmod', ['-R', 'u=rwX,go=rX', lfs]);
  };
  const asNobody = (cwd: string, args: string[]) =>
    run('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'git', ...args], {
      cwd,
      env: sb.env,
      timeoutMs: 120_000,
    });

  itWhere(
    isRoot,
    'root (switching to an unprivileged user)',
    'pull: fails naming the read-only folder, the work tree and the store are as they were',
    async () => {
      const remote = await sb.remote();
      const store = await sb.store();
      const work = await sb.workRepo('work', remote, store);
      const files = [
        await writeRandomFile(join(work, 'small.dat'), 100 * 1024),
        await writeRandomFile(join(work, 'big.dat'), 9 * MiB),
      ];
      await sb.commitAll(work, 'objects');
      await sb.gitOk(work, ['push', '-q', 'origin', 'main']);
      const copy = await sb.clone(remote, 'copy', store);
      const lfs = join(copy, '.git', 'lfs');
      for (const d of ['objects', 'tmp']) await mkdir(join(lfs, d), { recursive: true }); // as git-lfs leaves them
      const pointers = await Promise.all(files.map((f) => readFile(join(copy, f.path.split('/').pop()!))));
      handOver(lfs);

      const pull = await asNobody(copy, ['lfs', 'pull']);
      assert.notEqual(pull.code, 0, describeRun('pull into a read-only lfs folder', pull));
      assert.match(pull.stderr, /\[403\]/, describeRun('pull', pull));
      assert.match(pull.stderr, /cannot write in .* \(the LFS storage, lfs\.storage\): this user may not write there/);
      assert.ok(pull.stderr.includes(lfs), `the message names ${lfs}`);
      // Nothing lost: the pointers are still there, the store still holds every object intact.
      for (const [i, f] of files.entries()) {
        assert.deepEqual(await readFile(join(copy, f.path.split('/').pop()!)), pointers[i]);
        assert.equal(sha256(await readFile(stored(store, f.oid))), f.oid);
      }
    },
  );

  itWhere(
    isRoot,
    'root (switching to an unprivileged user)',
    'push: reads the read-only objects and stores them',
    async () => {
      const remote = await sb.remote();
      const store = await sb.store();
      const work = await sb.workRepo('work', remote, store);
      const f = await writeRandomFile(join(work, 'big.dat'), 9 * MiB);
      await sb.commitAll(work, 'big');
      handOver(join(work, '.git', 'lfs'));
      const push = await asNobody(work, ['push', '-q', 'origin', 'main']);
      assert.equal(push.code, 0, describeRun('push from a read-only lfs folder', push));
      assert.equal(sha256(await readFile(stored(store, f.oid))), f.oid);
      const local = stored(join(work, '.git', 'lfs', 'objects'), f.oid);
      assert.equal(sha256(await readFile(local)), f.oid, 'the local object is where it was');
    },
  );
});
