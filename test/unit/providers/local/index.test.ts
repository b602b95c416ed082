import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { access, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { rangeOpener } from '../../../../src/bridge/read-range.js';
import { parseConfig } from '../../../../src/config/index.js';
import { BridgeError } from '../../../../src/errors.js';
import { fillToBuffer } from '../../../../src/http/fill-body.js';
import { createLogger } from '../../../../src/log.js';
import local, { caps } from '../../../../src/providers/local/index.js';
import type { Provider, ProviderContext } from '../../../../src/providers/types.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );
function ctx(root: string): ProviderContext {
  return {
    config: parseConfig(
      new Map([
        ['lfs-bridge.provider', 'local'],
        ['lfs-bridge.root', root],
      ]),
    ),
    env: {},
    log: createLogger('test', {}, () => {}),
    cwd: root,
  };
}

const kindIs = (kind: string, re?: RegExp) => (e: unknown) => {
  assert.ok(e instanceof BridgeError, String(e));
  assert.equal(e.kind, kind, e.message);
  if (re) assert.match(e.message, re);
  return true;
};

describe('providers/local', () => {
  let dir: string;
  let root: string;
  let p: Provider;
  const data = randomBytes(100_000);
  const oid = sha(data);
  const final = () => join(root, oid.slice(0, 2), oid.slice(2, 4), oid);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lfsb-local-'));
    root = join(dir, 'store');
    await mkdir(root);
    p = await local.create(ctx(root));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('identity and capabilities', () => {
    assert.equal(p.name, 'local');
    assert.equal(p.account, '');
    assert.match(p.destination, /^[0-9a-f]{12}$/);
    assert.equal(p.caps, caps);
    assert.equal(caps.sessionFromOid, true);
    assert.equal(caps.needsKeychain, false);
  });

  it('the destination is stable per root and differs between roots', async () => {
    assert.equal((await local.create(ctx(root))).destination, p.destination);
    const other = join(dir, 'other');
    await mkdir(other);
    assert.notEqual((await local.create(ctx(other))).destination, p.destination);
  });

  it('a relative root is a Config error naming setup', async () => {
    await assert.rejects(local.create(ctx('relative/store')), kindIs('Config', /absolute.*lfs-bridge setup/));
    await assert.rejects(local.checkInit?.(ctx('relative/store')) ?? Promise.reject(), kindIs('Config'));
  });

  it('checkStore creates and removes a file in the incoming folder; a root nobody may write is Forbidden, in words', async () => {
    const check = (r: string) => local.checkStore?.(ctx(r)) ?? Promise.reject(new Error('no checkStore'));
    await check(root);
    assert.deepEqual(await readdir(join(root, '.lfs-bridge-incoming')), []);
    await assert.rejects(check(join(dir, 'nope')), kindIs('Config', /mounted/));
    const ro = join(dir, 'ro');
    await mkdir(ro);
    // Root ignores permission bits but not the immutable flag.
    const asRoot = process.getuid?.() === 0;
    execFileSync(asRoot ? 'chattr' : 'chmod', [asRoot ? '+i' : 'a-w', ro]);
    try {
      await assert.rejects(
        check(ro),
        kindIs(
          'Forbidden',
          /the local store .*\/ro cannot be written: cannot create .*\/ro\/\.lfs-bridge-incoming: (operation not permitted|permission denied)$/,
        ),
      );
    } finally {
      execFileSync(asRoot ? 'chattr' : 'chmod', [asRoot ? '-i' : 'u+w', ro]);
    }
  });

  it('a missing root, or a file as root, fails checkInit and create with a Config error', async () => {
    await assert.rejects(local.checkInit?.(ctx(join(dir, 'nope'))) ?? Promise.reject(), kindIs('Config', /mounted/));
    await assert.rejects(local.create(ctx(join(dir, 'nope'))), kindIs('Config'));
    await writeFile(join(dir, 'file'), 'x');
    await assert.rejects(local.create(ctx(join(dir, 'file'))), kindIs('Config', /not a folder/));
  });

  it('stat of a missing oid is null', async () => {
    assert.equal(await p.stat(oid), null);
  });

  it('putSmall stores <root>/aa/bb/<oid>; stat and readTarget see it', async () => {
    const res = await p.putSmall(oid, data.length, Readable.from([data.subarray(0, 5000), data.subarray(5000)]));
    assert.deepEqual(res, { size: data.length });
    assert.deepEqual(await readFile(final()), data);
    assert.deepEqual(await p.stat(oid), { size: data.length });
    const r = await rangeOpener(p)(oid, data.length, 0, data.length);
    assert.equal(r.start, 0);
    assert.deepEqual(await fillToBuffer(r.body), data);
    assert.deepEqual(await readdir(join(root, '.lfs-bridge-incoming')), [], 'no temp file left');
  });

  it('readTarget returns exactly [start, end)', async () => {
    await p.putSmall(oid, data.length, Readable.from([data]));
    for (const [s, e] of [
      [0, 1],
      [10, 20],
      [99_999, 100_000],
      [50_000, 100_000],
    ]) {
      const r = await rangeOpener(p)(oid, data.length, s, e);
      assert.equal(r.start, s);
      assert.deepEqual(await fillToBuffer(r.body), data.subarray(s, e), `[${s}, ${e})`);
    }
  });

  it('readTarget of a missing oid is NotFound (404)', async () => {
    await assert.rejects(rangeOpener(p)(oid, 10, 0, 10), kindIs('NotFound', /not in the local store/));
  });

  it('a vanished root is a Config error, not "not found"', async () => {
    await rm(root, { recursive: true });
    await assert.rejects(p.stat(oid), kindIs('Config', /not reachable/));
    await assert.rejects(rangeOpener(p)(oid, 10, 0, 10), kindIs('Config', /not reachable/));
  });

  it('putSmall of the wrong number of bytes is Corrupt and leaves nothing behind', async () => {
    await assert.rejects(p.putSmall(oid, data.length, Readable.from([data.subarray(0, 10)])), kindIs('Corrupt'));
    assert.equal(await exists(final()), false);
    assert.deepEqual(await readdir(join(root, '.lfs-bridge-incoming')), []);
  });

  it('putSmall with a failing body (source failed verification) leaves nothing behind', async () => {
    const body = new PassThrough();
    body.write(data.subarray(0, 1000));
    setTimeout(() => body.destroy(new BridgeError('Corrupt', false, 'SHA-256 mismatch')), 10);
    await assert.rejects(p.putSmall(oid, data.length, body), kindIs('Corrupt'));
    assert.equal(await exists(final()), false);
    assert.deepEqual(await readdir(join(root, '.lfs-bridge-incoming')), []);
  });

  it('the final name never holds a partial object while bytes are still arriving', async () => {
    const body = new PassThrough();
    const put = p.putSmall(oid, data.length, body);
    body.write(data.subarray(0, 50_000));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(await exists(final()), false, 'visible under its final name mid-write');
    body.end(data.subarray(50_000));
    await put;
    assert.deepEqual(await readFile(final()), data);
  });

  describe('upload sessions', () => {
    it('startUpload / uploadChunk / queryUpload / finishUpload', async () => {
      const s = await p.startUpload(oid, data.length);
      assert.equal(await p.queryUpload(s), 0);
      assert.equal(
        (await p.uploadChunk(s, 0, 40_000, Readable.from([data.subarray(0, 40_000)]), false)).offset,
        40_000,
      );
      assert.equal(await p.queryUpload(s), 40_000);
      assert.equal(await p.stat(oid), null, 'not visible before finishUpload');
      assert.equal(
        (await p.uploadChunk(s, 40_000, 60_000, Readable.from([data.subarray(40_000)]), true)).offset,
        data.length,
      );
      assert.equal(await p.stat(oid), null, 'not visible before finishUpload');
      assert.deepEqual(await p.finishUpload(s), { size: data.length });
      assert.deepEqual(await readFile(final()), data);
      assert.deepEqual(await readdir(join(root, '.lfs-bridge-incoming')), []);
    });

    it('the session follows from the oid: a new process resumes from the partial', async () => {
      const s1 = await p.startUpload(oid, data.length);
      await p.uploadChunk(s1, 0, 30_000, Readable.from([data.subarray(0, 30_000)]), false);
      const p2 = await local.create(ctx(root));
      const s2 = await p2.startUpload(oid, data.length);
      assert.equal(await p2.queryUpload(s2), 30_000);
      assert.match(String(s2.partial), new RegExp(`${oid}\\.${hostname()}\\.part$`));
    });

    it('a chunk behind the partial truncates and rewrites; one past it is a Conflict', async () => {
      const s = await p.startUpload(oid, data.length);
      await p.uploadChunk(s, 0, 30_000, Readable.from([data.subarray(0, 30_000)]), false);
      await assert.rejects(
        p.uploadChunk(s, 50_000, 10, Readable.from([data.subarray(50_000, 50_010)]), false),
        kindIs('Conflict'),
      );
      assert.equal(await p.queryUpload(s), 30_000);
      assert.equal(
        (await p.uploadChunk(s, 20_000, 80_000, Readable.from([data.subarray(20_000)]), true)).offset,
        100_000,
      );
      await p.finishUpload(s);
      assert.deepEqual(await readFile(final()), data);
    });

    it('uploadChunk reports the committed offset, not offset+length, when the body ends short', async () => {
      const s = await p.startUpload(oid, data.length);
      const got = (await p.uploadChunk(s, 0, 40_000, Readable.from([data.subarray(0, 25_000)]), false)).offset;
      assert.equal(await p.queryUpload(s), 25_000);
      assert.equal(got, 25_000, 'claimed bytes it never stored');
    });

    it('finishUpload of an incomplete partial is Corrupt and never appears under the final name', async () => {
      const s = await p.startUpload(oid, data.length);
      await p.uploadChunk(s, 0, 30_000, Readable.from([data.subarray(0, 30_000)]), false);
      await assert.rejects(p.finishUpload(s), kindIs('Corrupt', /30000 bytes, expected 100000/));
      assert.equal(await exists(final()), false);
      assert.equal(await p.stat(oid), null);
    });

    it('abortUpload removes the partial (and is idempotent)', async () => {
      const s = await p.startUpload(oid, data.length);
      await p.uploadChunk(s, 0, 30_000, Readable.from([data.subarray(0, 30_000)]), false);
      await p.abortUpload(s);
      assert.equal(await p.queryUpload(s), 0);
      await p.abortUpload(s);
      assert.deepEqual(await readdir(join(root, '.lfs-bridge-incoming')), []);
    });

    describe('a partial left by an earlier run is checked before it is committed', () => {
      const leave = async (bytes: Buffer) => {
        const s = await p.startUpload(oid, data.length);
        await p.uploadChunk(s, 0, bytes.length, Readable.from([bytes]), false);
      };
      const damaged = () => {
        const d = Buffer.from(data.subarray(0, 60_000));
        d.write('DAMAGED-BYTES!', 1000); // 14 bytes
        return d;
      };

      it('continued and finished by a new process: stored when its prefix is the object', async () => {
        await leave(data.subarray(0, 60_000));
        const p2 = await local.create(ctx(root));
        const s = await p2.startUpload(oid, data.length);
        const at = await p2.queryUpload(s);
        assert.equal(at, 60_000);
        await p2.uploadChunk(s, at, data.length - at, Readable.from([data.subarray(at)]), true);
        assert.deepEqual(await p2.finishUpload(s), { size: data.length });
        assert.equal(sha(await readFile(final())), oid);
      });

      it('continued after damage: finishUpload is Corrupt, deletes the partial, stores nothing', async () => {
        await leave(damaged());
        const p2 = await local.create(ctx(root));
        const s = await p2.startUpload(oid, data.length);
        await p2.uploadChunk(s, 60_000, 40_000, Readable.from([data.subarray(60_000)]), true);
        await assert.rejects(p2.finishUpload(s), kindIs('Corrupt', /hashes to/));
        assert.equal(await exists(final()), false);
        assert.equal(await p2.queryUpload(s), 0, 'the damaged partial was deleted');
      });

      it('complete but not committed, zeroed at its end (a power cut): finishUpload alone is Corrupt', async () => {
        const d = Buffer.from(data);
        d.fill(0, data.length - 4096);
        await leave(d);
        const p2 = await local.create(ctx(root));
        const s = await p2.startUpload(oid, data.length);
        assert.equal(await p2.queryUpload(s), data.length);
        await assert.rejects(p2.finishUpload(s), kindIs('Corrupt'));
        assert.equal(await exists(final()), false);
      });
    });

    it('a zero-byte object', async () => {
      const empty = sha(Buffer.alloc(0));
      const s = await p.startUpload(empty, 0);
      assert.equal((await p.uploadChunk(s, 0, 0, Readable.from([]), true)).offset, 0);
      assert.deepEqual(await p.finishUpload(s), { size: 0 });
      assert.deepEqual(await p.stat(empty), { size: 0 });
      assert.deepEqual(await p.putSmall(empty, 0, Readable.from([])), { size: 0 });
    });
  });
});
