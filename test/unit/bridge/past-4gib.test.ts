/**
 * Objects past 4 GiB: every offset the transfer computes, saves or sends must stay exact above 2^32 (no 32-bit
 * truncation in pieces, segment plans, sidecars, resume records, Range / Content-Range or Dropbox's cursor).
 * A sparse 5 GiB file stands for the object where bytes are read (the round trip through git is in the bench).
 */

import assert from 'node:assert/strict';
import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { type RangeRead, rangeOpener } from '../../../src/bridge/read-range.js';
import { type ResumeRecord, resumeKey, SecretResumeStore } from '../../../src/bridge/resume.js';
import { loadState, plan } from '../../../src/bridge/segments.js';
import { cutPieces, pieceSizeFor } from '../../../src/bridge/upload-pieces.js';
import { FileStore } from '../../../src/keychain/index.js';
import { DropboxProvider } from '../../../src/providers/dropbox/provider.js';
import { type FakeDropbox, startFakeDropbox } from '../../fakes/dropbox/server.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const FOUR_GIB = 2 ** 32;
const SIZE = 5 * GiB + 7; // not a multiple of anything: the last block and segment are short

/** Past 2^32, and odd: a value truncated to 32 bits, or rounded to a block, would differ. */
const MARK_AT = FOUR_GIB + 3 * MiB + 5;

describe('objects past 4 GiB', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lfsb-4gib-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('pieces of a 5 GiB upload: aligned, contiguous, ending exactly at the size', () => {
    const piece = pieceSizeFor(SIZE, 48 * MiB, 4 * MiB, 4);
    assert.equal(piece, 48 * MiB);
    const ps = cutPieces(SIZE, piece, 4 * MiB);
    let at = 0;
    for (const [i, p] of ps.entries()) {
      assert.equal(p.start, at);
      if (i < ps.length - 1) assert.equal(p.start % (4 * MiB), 0);
      at = p.end;
    }
    assert.equal(at, SIZE);
    assert.deepEqual(ps.at(-1), { start: SIZE - 7, end: SIZE }, 'the closing piece is the 7-byte last block');
    assert.ok(
      ps.some((p) => p.start < FOUR_GIB && p.end > FOUR_GIB),
      'a piece spans 2^32',
    );
    assert.equal(ps.length, Math.ceil((SIZE - 7) / piece) + 1);
  });

  it('segments of a 5 GiB download: contiguous, ending exactly at the size', () => {
    const segs = plan(SIZE);
    assert.equal(segs.length, Math.ceil(SIZE / (8 * MiB)));
    let at = 0;
    for (const s of segs) {
      assert.equal(s.start, at);
      at = s.end;
    }
    assert.equal(at, SIZE);
    assert.equal(segs.at(-1)!.end - segs.at(-1)!.start, 7);
  });

  it('a sidecar past 2^32 is read back exactly; one claiming bytes past the partial is not trusted', async () => {
    const part = join(dir, 'x.part');
    const state = join(dir, 'x.state');
    const fd = openSync(part, 'w');
    ftruncateSync(fd, MARK_AT); // sparse: the partial holds MARK_AT bytes
    closeSync(fd);
    const segs = plan(SIZE);
    for (const s of segs) s.done = Math.max(0, Math.min(s.end, MARK_AT) - s.start);
    await writeFile(state, JSON.stringify({ size: SIZE, segment: 8 * MiB, segments: segs }));
    const got = await loadState(state, SIZE, MARK_AT);
    assert.ok(Array.isArray(got));
    const at = got.findIndex((s) => s.start + s.done === MARK_AT);
    assert.ok(at > 0 && got[at].start >= FOUR_GIB, 'the frontier segment starts at 2^32');
    assert.equal(
      got.reduce((n, s) => n + s.done, 0),
      MARK_AT,
    );
    // The same record against a partial one byte shorter: it leads the file, so it is not believed.
    assert.equal(await loadState(state, SIZE, MARK_AT - 1), 'untrusted');
    assert.equal(await loadState(state, SIZE - 1, MARK_AT), 'untrusted', 'another size');
  });

  it('a resume record of a 5 GiB upload keeps its offsets and pieces exactly (keychain JSON)', async () => {
    const store = new SecretResumeStore(new FileStore(join(dir, 'secrets.json')));
    const pieces = cutPieces(SIZE, 48 * MiB, 4 * MiB)
      .filter((p) => p.start > FOUR_GIB)
      .map((p) => p.start);
    const rec: ResumeRecord = {
      provider: 'dropbox',
      account: 'me',
      destination: 'd',
      oid: 'a'.repeat(64),
      size: SIZE,
      chunkSize: 48 * MiB,
      session: { sessionId: 's', size: SIZE },
      createdAt: 1,
      offset: SIZE - 7,
      pieces,
    };
    await store.put(rec);
    const back = await store.get(resumeKey(rec));
    assert.deepEqual(back, rec);
    assert.equal(back!.offset, SIZE - 7);
    assert.ok(back!.pieces!.every((p, i) => p === pieces[i] && p % (4 * MiB) === 0));
  });

  describe('Dropbox requests (fake API, a sparse 5 GiB object)', () => {
    let fake: FakeDropbox;
    let p: DropboxProvider;
    const oid = 'b'.repeat(64);
    const path = `/lfs/repo/bb/bb/${oid}`;
    beforeEach(async () => {
      fake = await startFakeDropbox();
      const token = fake.issueToken().access;
      p = new DropboxProvider('default', '/lfs/repo', async () => token, { LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url });
      // Zeros but for marks at MARK_AT and at the last byte.
      const blob = join(fake.dataDir, 'tmp', 'sparse-5g');
      const fd = openSync(blob, 'w');
      ftruncateSync(fd, SIZE);
      writeSync(fd, Buffer.from('MARK'), 0, 4, MARK_AT);
      writeSync(fd, Buffer.from('Z'), 0, 1, SIZE - 1);
      closeSync(fd);
      fake.files.adopt(path, blob, 'c'.repeat(64));
    });
    afterEach(() => fake.close());

    const readAll = async (r: RangeRead, length: number) => {
      const out = Buffer.alloc(length);
      let at = 0;
      await r.body.pipeTo({
        region: () => (at < length ? out.subarray(at) : null),
        filled: (n) => {
          at += n;
        },
      });
      return out.subarray(0, at);
    };

    it('stat reports the size; a small range past 2^32 starts where asked (Range, Content-Range)', async () => {
      assert.deepEqual(await p.stat(oid), { size: SIZE, hash: 'c'.repeat(64) });
      const r = await rangeOpener(p)(oid, SIZE, MARK_AT - 2, MARK_AT + 6);
      assert.equal(r.start, MARK_AT - 2);
      assert.deepEqual(await readAll(r, 8), Buffer.from('\0\0MARK\0\0'));
    });

    it('a large range to the end (the direct reader) ends on the last byte', async () => {
      const from = SIZE - 9 * MiB;
      const r = await rangeOpener(p)(oid, SIZE, from, SIZE);
      assert.equal(r.start, from);
      const got = await readAll(r, 9 * MiB);
      assert.equal(got.length, 9 * MiB);
      assert.equal(got.at(-1), 'Z'.charCodeAt(0));
    });

    it('a piece appended at an offset past 2^32 lands there (the cursor offset is exact)', async () => {
      const s = await p.startUpload(oid, SIZE, undefined, { concurrent: true });
      const offset = FOUR_GIB + 4 * MiB; // a block boundary past 2^32
      const data = Buffer.alloc(4 * MiB, 1);
      assert.equal(
        (await p.uploadChunk(s, offset, data.length, Readable.from([data]), false)).offset,
        offset + 4 * MiB,
      );
      // The fake writes a piece at its offset in the session's file: that file now ends right after it.
      const files = await readdir(join(fake.dataDir, 'sessions'));
      assert.equal(files.length, 1);
      assert.equal((await stat(join(fake.dataDir, 'sessions', files[0]))).size, offset + 4 * MiB);
    });
  });
});
