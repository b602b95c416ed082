/**
 * The disk fills during a download (real git + git-lfs, the fake Dropbox): lfs.storage is a small tmpfs, the object
 * is bigger. The pull fails with a 507 that names the disk, git-lfs is handed nothing, and once there is room the
 * next pull goes on from the partial (the fake's counters: far fewer bytes sent again than the object).
 * Mounting needs root: CI runs as root; elsewhere this file is skipped (the one documented platform case here).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type FakeDropbox, startFakeDropbox } from '../fakes/dropbox/server.js';
import { MiB, sha256, writeRandomFile } from '../helpers/files.js';
import { itWhere } from '../helpers/platform.js';
import { describeRun } from '../helpers/run.js';
import { Sandbox } from '../helpers/sandbox.js';

const dbxPath = (oid: string) => `/lfs/repo/${oid.slice(0, 2)}/${oid.slice(2, 4)}/${oid}`;
const isRoot = process.getuid?.() === 0;

describe('e2e: the disk fills during a download (a tmpfs as lfs.storage)', function () {
  this.timeout(240_000);
  let fake: FakeDropbox;
  let sb: Sandbox;
  let disk: string;
  let mounted = false;

  beforeEach(async () => {
    fake = await startFakeDropbox();
    sb = await Sandbox.create('diskfull');
    disk = sb.path('small-disk');
    await mkdir(disk);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', disk]);
    mounted = true;
  });
  afterEach(async () => {
    if (mounted) execFileSync('umount', ['-l', disk]);
    mounted = false;
    await fake.close();
    await sb.cleanup();
  });

  itWhere(
    isRoot,
    'root (mounting a tmpfs)',
    'a 507 naming the disk, nothing handed over; after room is made the next pull resumes',
    async () => {
      const env = { LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url, LFS_BRIDGE_DROPBOX_TOKEN: fake.issueToken().access };
      const remote = await sb.remote();
      const work = sb.path('work');
      await sb.gitOk(sb.root, ['init', '-q', work]);
      await sb.gitOk(work, ['remote', 'add', 'origin', remote]);
      await sb.bridgeOk(work, ['setup', '--provider', 'dropbox', '--root', '/lfs/repo', '--shared'], env);
      await sb.gitOk(work, ['lfs', 'track', '*.dat']);
      const big = await writeRandomFile(join(work, 'big.dat'), 40 * MiB);
      await sb.commitAll(work, 'big');
      await sb.gitOk(work, ['push', '-q', 'origin', 'main'], env);

      await sb.gitOk(sb.root, ['clone', '-q', remote, 'copy'], { GIT_LFS_SKIP_SMUDGE: '1' });
      const copy = sb.path('copy');
      await sb.bridgeOk(copy, ['setup'], env);
      await sb.gitOk(copy, ['config', 'lfs.storage', disk]);
      fake.counters.reset();
      const sent = () => fake.counters.bytesOutByPath[dbxPath(big.oid).toLowerCase()] ?? 0;

      const full = await sb.git(copy, ['lfs', 'pull'], env);
      assert.notEqual(full.code, 0, describeRun('pull onto a full disk', full));
      assert.match(full.stderr, /\[507\]/, describeRun('pull onto a full disk', full));
      assert.match(full.stderr, /no space left/i);
      assert.ok(full.stderr.includes(disk), `the message names the disk (${disk}): ${full.stderr}`);
      const object = join(disk, 'objects', big.oid.slice(0, 2), big.oid.slice(2, 4), big.oid);
      assert.equal(existsSync(object), false, 'nothing stored under the oid');
      const tmp = existsSync(join(disk, 'tmp')) ? await readdir(join(disk, 'tmp')) : [];
      assert.deepEqual(
        tmp.filter((f) => f.startsWith('lfs-bridge-')),
        [],
        'no hand-over file left',
      );
      const part = join(disk, 'incomplete', 'lfs-bridge', `${big.oid}.part`);
      assert.ok(existsSync(part), 'the partial is kept for the next pull');
      const before = sent();
      const st = statSync(part);
      const written = st.blocks * 512; // sparse: segments land at their offsets

      execFileSync('mount', ['-o', 'remount,size=128m', disk]); // room is made
      const again = await sb.git(copy, ['lfs', 'pull'], env);
      assert.equal(again.code, 0, describeRun('pull after room was made', again));
      assert.equal(sha256(await readFile(join(copy, 'big.dat'))), big.oid);
      const resent = sent() - before;
      // What the partial held is not fetched again (at most the buffer that met the full disk).
      assert.ok(
        resent <= big.size - written + 2 * MiB,
        `the second pull fetched ${resent} of ${big.size} bytes again; the partial held ${written}`,
      );
      assert.ok(resent <= big.size / 3, `the second pull fetched ${resent} of ${big.size} bytes again`);
    },
  );
});
