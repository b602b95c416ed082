import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MemoryResumeStore,
  type ResumeRecord,
  type ResumeStore,
  resumeKey,
  SecretResumeStore,
} from '../../../src/bridge/resume.js';
import { FileStore } from '../../../src/keychain/index.js';

const rec = (oid: string, over: Partial<ResumeRecord> = {}): ResumeRecord => ({
  provider: 'dropbox',
  account: 'me@example.com',
  destination: 'abc123def456',
  oid,
  size: 1000,
  chunkSize: 100,
  session: { id: `session-${oid.slice(0, 4)}` },
  createdAt: 1_700_000_000_000,
  offset: 0,
  ...over,
});
const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('bridge/resume', () => {
  it('resumeKey is resume:<provider>:<account>:<destination>:<oid>', () => {
    assert.equal(resumeKey(rec(A)), `resume:dropbox:me@example.com:abc123def456:${A}`);
  });

  /** The same behaviour for every store. */
  function behaves(make: () => Promise<ResumeStore>) {
    it('put / get / list / delete', async () => {
      const s = await make();
      assert.equal(await s.get(resumeKey(rec(A))), null);
      await s.put(rec(A));
      await s.put(rec(B, { offset: 300 }));
      assert.deepEqual(await s.get(resumeKey(rec(A))), rec(A));
      assert.deepEqual((await s.list()).map((r) => r.oid).sort(), [A, B]);
      await s.put(rec(A, { offset: 500 })); // overwrite, same key
      assert.equal((await s.get(resumeKey(rec(A))))?.offset, 500);
      assert.equal((await s.list()).length, 2);
      await s.delete(resumeKey(rec(A)));
      assert.equal(await s.get(resumeKey(rec(A))), null);
      await s.delete(resumeKey(rec(A))); // deleting a missing key is fine
      assert.deepEqual(
        (await s.list()).map((r) => r.oid),
        [B],
      );
    });
    it('the same oid for two destinations are two records', async () => {
      const s = await make();
      await s.put(rec(A));
      await s.put(rec(A, { destination: 'other' }));
      assert.equal((await s.list()).length, 2);
    });
  }

  describe('MemoryResumeStore', () => {
    behaves(async () => new MemoryResumeStore());
  });

  describe('SecretResumeStore over a FileStore', () => {
    let dir: string;
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), 'lfsb-resume-'));
    });
    afterEach(() => rm(dir, { recursive: true, force: true }));

    behaves(async () => new SecretResumeStore(new FileStore(join(dir, 'secrets.json'))));

    it('stores records under their key, next to other secrets it leaves alone', async () => {
      const fs = new FileStore(join(dir, 'secrets.json'));
      await fs.set('token:dropbox:me', 'TOKEN');
      const s = new SecretResumeStore(fs);
      await s.put(rec(A));
      const raw = JSON.parse(await readFile(join(dir, 'secrets.json'), 'utf8'));
      assert.deepEqual(JSON.parse(raw[resumeKey(rec(A))]), rec(A));
      assert.equal(raw['token:dropbox:me'], 'TOKEN');
      assert.deepEqual(
        (await s.list()).map((r) => r.oid),
        [A],
        'list() returns resume records only',
      );
    });

    it('an unreadable record is dropped: get() → null and it is deleted; list() skips it', async () => {
      const path = join(dir, 'secrets.json');
      const key = resumeKey(rec(A));
      await writeFile(path, JSON.stringify({ [key]: '{broken', [resumeKey(rec(B))]: JSON.stringify(rec(B)) }));
      const s = new SecretResumeStore(new FileStore(path));
      assert.deepEqual(
        (await s.list()).map((r) => r.oid),
        [B],
      );
      assert.equal(await s.get(key), null);
      assert.equal(key in JSON.parse(await readFile(path, 'utf8')), false);
    });
  });
});
