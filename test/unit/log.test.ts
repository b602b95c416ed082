import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, maskInLogs, redact } from '../../src/log.js';

/** A logger whose stderr is captured. */
function capture(env: NodeJS.ProcessEnv) {
  const lines: string[] = [];
  const log = createLogger('transfer', env, (s) => lines.push(s));
  return { log, lines };
}

describe('log', () => {
  describe('redact', () => {
    it('masks registered secrets wherever they appear', () => {
      const token = `sl.${randomBytes(16).toString('hex')}`;
      const url = `https://content.example.com/upload/session/${randomBytes(12).toString('hex')}`;
      maskInLogs(token, url, undefined);
      const out = redact(`token ${token} at ${url}?x=1 and again ${token}`);
      assert.ok(!out.includes(token));
      assert.ok(!out.includes(url));
      assert.equal(out, 'token «redacted» at «redacted»?x=1 and again «redacted»');
    });

    it('ignores values too short to be secrets', () => {
      maskInLogs('abc');
      assert.equal(redact('abc abcdef'), 'abc abcdef');
    });

    it('masks bearer tokens and token-looking query parameters', () => {
      assert.equal(redact('Authorization: Bearer abcdefgh1234.xyz'), 'Authorization: Bearer «redacted»');
      assert.equal(redact('authorization: bearer ya29.A0ARrdaM-x_y'), 'authorization: bearer «redacted»');
      assert.equal(
        redact('GET /cb?code=4/0AX4Xf&state=s and access_token=abc&refresh_token=def upload_id=u1'),
        'GET /cb?code=«redacted»&state=s and access_token=«redacted»&refresh_token=«redacted» upload_id=«redacted»',
      );
    });

    it('leaves ordinary text alone', () => {
      assert.equal(redact('uploaded 12 MiB of abc in 3 s'), 'uploaded 12 MiB of abc in 3 s');
    });
  });

  describe('createLogger', () => {
    it('is quiet by default: only errors reach stderr', () => {
      const { log, lines } = capture({});
      assert.equal(log.verbose, false);
      log.debug('d');
      log.info('i');
      log.error('e');
      assert.deepEqual(lines, ['lfs-bridge transfer: e\n']);
    });

    for (const env of [{ LFS_BRIDGE_DEBUG: '1' }, { GIT_TRANSFER_TRACE: '1' }, { LFS_BRIDGE_DEBUG: 'yes' }]) {
      it(`is verbose with ${JSON.stringify(env)}`, () => {
        const { log, lines } = capture(env);
        assert.equal(log.verbose, true);
        log.debug('d');
        log.info('i');
        log.error('e');
        assert.equal(lines.length, 3);
      });
    }

    for (const env of [{ LFS_BRIDGE_DEBUG: '0' }, { LFS_BRIDGE_DEBUG: 'false' }, { GIT_TRACE: '1' }]) {
      it(`stays quiet with ${JSON.stringify(env)}`, () => {
        const { log, lines } = capture(env);
        log.info('i');
        assert.equal(log.verbose, false);
        assert.deepEqual(lines, []);
      });
    }

    it('redacts what it writes', () => {
      const { log, lines } = capture({});
      log.error('failed with Authorization: Bearer sekrit-token-123');
      assert.ok(!lines.join('').includes('sekrit-token-123'));
    });

    it('a throwing stderr does not throw', () => {
      const log = createLogger('t', {}, () => {
        throw new Error('EPIPE');
      });
      assert.doesNotThrow(() => log.error('x'));
    });

    describe('LFS_BRIDGE_LOG', () => {
      let dir: string;
      beforeEach(async () => {
        dir = await mkdtemp(join(tmpdir(), 'lfsb-log-'));
      });
      afterEach(() => rm(dir, { recursive: true, force: true }));

      it('appends every level to the file, redacted, mode 0600; stderr stays quiet', async () => {
        const file = join(dir, 'bridge.log');
        await writeFile(file, 'earlier line\n', { mode: 0o600 });
        const { log, lines } = capture({ LFS_BRIDGE_LOG: file });
        log.debug('a debug line');
        log.info('an info line with Bearer abcdefghijklmnop');
        log.error('an error line');
        const text = await readFile(file, 'utf8');
        const rows = text.trimEnd().split('\n');
        assert.equal(rows[0], 'earlier line');
        assert.equal(rows.length, 4);
        assert.match(rows[1], new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[^ ]+ ${process.pid} transfer debug: a debug line$`));
        assert.match(rows[2], /info: an info line with Bearer «redacted»$/);
        assert.match(rows[3], /error: an error line$/);
        assert.deepEqual(lines, ['lfs-bridge transfer: an error line\n']);
      });

      it('creates the file with mode 0600', async () => {
        const file = join(dir, 'new.log');
        capture({ LFS_BRIDGE_LOG: file }).log.info('x');
        assert.equal((await stat(file)).mode & 0o777, 0o600);
      });

      it('an unwritable log file does not break logging', () => {
        const { log, lines } = capture({ LFS_BRIDGE_LOG: join(dir, 'no', 'such', 'dir', 'x.log') });
        assert.doesNotThrow(() => log.error('still here'));
        assert.equal(lines.length, 1);
      });
    });
  });
});
