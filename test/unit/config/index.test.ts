import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_DOWNLOAD_STREAMS, loadConfig, parseConfig } from '../../../src/config/index.js';
import { BridgeError } from '../../../src/errors.js';
import { isProviderName } from '../../../src/providers/index.js';

const cfg = (o: Record<string, string>) => new Map(Object.entries(o));
const base = { 'lfs-bridge.provider': 'local', 'lfs-bridge.root': '/srv/lfs' };

/** Asserts a Config error whose message matches. */
const configErr = (re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof BridgeError, String(e));
  assert.equal(e.kind, 'Config');
  assert.equal(e.code, 400);
  assert.match(e.message, re);
  return true;
};

describe('config', () => {
  describe('parseConfig', () => {
    it('minimal: defaults filled in', () => {
      const c = parseConfig(cfg(base));
      assert.equal(c.provider, 'local');
      assert.equal(c.root, '/srv/lfs');
      assert.equal(c.downloadStreams, DEFAULT_DOWNLOAD_STREAMS);
      assert.equal(c.chunkSize, undefined);
      assert.equal(c.maxRate, undefined);
      assert.equal(c.account, undefined);
      assert.equal(c.raw.get('lfs-bridge.root'), '/srv/lfs');
    });

    it('reads sizes, rate, streams and account', () => {
      const c = parseConfig(
        cfg({
          ...base,
          'lfs-bridge.chunksize': '16MiB',
          'lfs-bridge.maxrate': '10MB',
          'lfs-bridge.downloadstreams': '8',
          'lfs-bridge.account': 'me@example.com',
        }),
      );
      assert.equal(c.chunkSize, 16 * 1024 ** 2);
      assert.equal(c.maxRate, 10_000_000);
      assert.equal(c.downloadStreams, 8);
      assert.equal(c.account, 'me@example.com');
    });

    it('an unset provider names lfs-bridge setup', () => {
      assert.throws(() => parseConfig(cfg({})), configErr(/not set up: run lfs-bridge setup/));
    });

    it('an unknown provider lists the known ones', () => {
      assert.throws(
        () => parseConfig(cfg({ ...base, 'lfs-bridge.provider': 'ftp' })),
        configErr(/unknown provider "ftp".*local, dropbox/),
      );
      assert.throws(
        () => parseConfig(cfg({ ...base, 'lfs-bridge.provider': 'gdrive' })),
        configErr(/the gdrive provider in lfs-bridge.provider is not in this build.*local, dropbox/),
      );
    });

    it('a missing root names lfs-bridge.root and setup', () => {
      assert.throws(
        () => parseConfig(cfg({ 'lfs-bridge.provider': 'dropbox' })),
        configErr(/lfs-bridge\.root is not set: run lfs-bridge setup --provider dropbox/),
      );
    });

    it('a garbage size is a Config error naming the key', () => {
      assert.throws(
        () => parseConfig(cfg({ ...base, 'lfs-bridge.chunksize': 'huge' })),
        configErr(/lfs-bridge\.chunksize/),
      );
      assert.throws(
        () => parseConfig(cfg({ ...base, 'lfs-bridge.maxrate': '5 furlongs' })),
        configErr(/lfs-bridge\.maxrate/),
      );
    });

    it('chunksize 0 is refused; maxrate 0 means no limit', () => {
      assert.throws(() => parseConfig(cfg({ ...base, 'lfs-bridge.chunksize': '0' })), configErr(/chunksize/));
      assert.equal(parseConfig(cfg({ ...base, 'lfs-bridge.maxrate': '0' })).maxRate, undefined);
    });

    for (const [key, field] of [
      ['downloadstreams', 'downloadStreams'],
      ['uploadstreams', 'uploadStreams'],
    ] as const)
      it(`${key}: 1..64 whole numbers only, 4 when unset`, () => {
        assert.equal(parseConfig(cfg(base))[field], 4);
        assert.equal(parseConfig(cfg({ ...base, [`lfs-bridge.${key}`]: '1' }))[field], 1);
        assert.equal(parseConfig(cfg({ ...base, [`lfs-bridge.${key}`]: '64' }))[field], 64);
        for (const v of ['0', '65', '-2', '1.5', 'four', '1e1x']) {
          assert.throws(
            () => parseConfig(cfg({ ...base, [`lfs-bridge.${key}`]: v })),
            configErr(new RegExp(`lfs-bridge\\.${key} must be a whole number from 1 to 64`)),
            v,
          );
        }
      });

    it('isProviderName', () => {
      assert.equal(isProviderName('local'), true);
      assert.equal(isProviderName('Local'), false);
      assert.equal(isProviderName('s3'), false);
    });
  });

  describe('loadConfig (git config)', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'lfsb-config-'));
      execFileSync('git', ['init', '-q', dir]);
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it('reads lfs-bridge.* from the repository, keys lowercased', async () => {
      execFileSync('git', ['config', 'lfs-bridge.provider', 'local'], { cwd: dir });
      execFileSync('git', ['config', 'lfs-bridge.root', '/x y/z'], { cwd: dir });
      execFileSync('git', ['config', 'lfs-bridge.chunkSize', '1m'], { cwd: dir });
      const c = await loadConfig(dir);
      assert.equal(c.provider, 'local');
      assert.equal(c.root, '/x y/z');
      assert.equal(c.chunkSize, 1024 ** 2);
    });
  });
});
