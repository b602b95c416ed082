import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../../src/config/index.js';
import { parseSentinel, readSentinel, SENTINEL_BASE, sentinelUrl } from '../../../src/config/sentinel.js';

describe('config/sentinel', () => {
  it('encodes provider and root in one URL under the reserved .invalid host, and decodes them back', () => {
    for (const [provider, root] of [
      ['local', '/mnt/nas/lfs/my repo'],
      ['local', 'relative/store'],
      ['local', '/données/ünïcode/%41?#'],
      ['dropbox', 'ns:1234567890/lfs'],
      ['dropbox', '/'],
    ] as const) {
      const url = sentinelUrl(provider, root);
      assert.ok(url.startsWith('https://lfs-bridge.invalid/'), url);
      assert.equal(new URL(url).host, 'lfs-bridge.invalid');
      assert.deepEqual(parseSentinel(url), { provider, root });
    }
    assert.equal(sentinelUrl('local', '/a b/c'), `${SENTINEL_BASE}local/%2Fa%20b%2Fc`);
  });

  it('any other URL is not a sentinel', () => {
    for (const url of [
      'https://github.com/o/r.git/info/lfs',
      'https://lfs-bridge.invalid.example.com/local/%2Fx',
      'http://lfs-bridge.invalid/local/%2Fx',
      `${SENTINEL_BASE}s3/%2Fx`,
      `${SENTINEL_BASE}local/`,
      `${SENTINEL_BASE}local/%2Fx/objects`,
      `${SENTINEL_BASE}local/%E0%A4%A`,
    ])
      assert.equal(parseSentinel(url), undefined, url);
  });

  describe('readSentinel / loadConfig in a repository', () => {
    let dir: string;
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t.invalid', ...args], { cwd: dir }).toString();
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'lfsb-sentinel-'));
      execFileSync('git', ['init', '-q', dir]);
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    it('none: undefined, and loadConfig says the repository is not set up', async () => {
      assert.equal(await readSentinel(dir), undefined);
      await assert.rejects(loadConfig(dir), /not set up/);
    });

    it('from .lfsconfig in the work tree; loadConfig takes provider and root from it', async () => {
      const url = sentinelUrl('dropbox', 'ns:42/lfs');
      git('config', '--file', '.lfsconfig', 'lfs.url', url);
      assert.deepEqual(await readSentinel(dir), { provider: 'dropbox', root: 'ns:42/lfs', url });
      const c = await loadConfig(dir);
      assert.equal(c.provider, 'dropbox');
      assert.equal(c.root, 'ns:42/lfs');
    });

    it("from HEAD while a clone's checkout has not written .lfsconfig yet", async () => {
      git('config', '--file', '.lfsconfig', 'lfs.url', sentinelUrl('local', '/srv/lfs'));
      git('add', '.lfsconfig');
      git('commit', '-qm', 'x');
      await unlink(join(dir, '.lfsconfig'));
      git('rm', '-q', '--cached', '.lfsconfig');
      assert.equal((await readSentinel(dir))?.root, '/srv/lfs');
    });

    it('a relative local root is resolved against the top of the work tree', async () => {
      git('config', '--file', '.lfsconfig', 'lfs.url', sentinelUrl('local', '../store'));
      const top = git('rev-parse', '--show-toplevel').trim();
      assert.equal((await readSentinel(dir))?.root, join(top, '..', 'store'));
    });

    it("the repository's own lfs-bridge.* config wins over the sentinel", async () => {
      git('config', '--file', '.lfsconfig', 'lfs.url', sentinelUrl('dropbox', '/elsewhere'));
      git('config', 'lfs-bridge.provider', 'local');
      git('config', 'lfs-bridge.root', '/own');
      const c = await loadConfig(dir);
      assert.equal(c.provider, 'local');
      assert.equal(c.root, '/own');
    });

    it('an lfs.url in git config that is a real server beats .lfsconfig, as in git-lfs: no sentinel', async () => {
      await writeFile(join(dir, '.lfsconfig'), `[lfs]\n\turl = ${sentinelUrl('local', '/srv/lfs')}\n`);
      git('config', 'lfs.url', 'https://lfs.example.com/o/r');
      assert.equal(await readSentinel(dir), undefined);
    });
  });
});
