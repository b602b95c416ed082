/**
 * The provider contract (src/providers/types.ts, docs/architecture.md "The provider contract") as tests: one
 * function run once per provider, against the real store or the project's fake server of its API. A new provider
 * starts by passing it (docs/providers.md "Adding a provider"). Cases that need a fault the store cannot have (a
 * rate limit on a folder) are made only where the setup offers the hook.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { rangeOpener } from '../../../../src/bridge/read-range.js';
import { BridgeError, type ErrorKind } from '../../../../src/errors.js';
import { hashesEqual, serverHasher } from '../../../../src/hash/index.js';
import { fillToBuffer } from '../../../../src/http/fill-body.js';
import type { Provider, RemoteObject, UploadSession } from '../../../../src/providers/types.js';

export interface ContractSetup {
  provider: Provider;
  /** Another instance on the same store and account, as another process would have. */
  another(): Promise<Provider>;
  /** Stores bytes under an oid with no check at all (a damaged or foreign copy). */
  putRaw(oid: string, bytes: Buffer): Promise<void>;
  /** The next call of `what` does its work on the server and its answer is lost (network providers). */
  loseNextAnswer?(what: 'last-chunk' | 'finish'): void;
  /** The next ranged read is answered 200 with the whole body. */
  ignoreNextRange?(): void;
  /** The next metadata call fails this way. */
  failNextStat?(how: 'rate-limit' | 'server-error' | 'auth'): void;
  /** Every session of the store dies (expired on the server). */
  expireSessions?(): void;
  close(): Promise<void>;
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const kindIs = (kind: ErrorKind) => (e: unknown) => e instanceof BridgeError && e.kind === kind;

/** The provider's hash of `bytes` in its own kind (undefined for 'none'). */
function serverHashOf(p: Provider, bytes: Buffer): string | undefined {
  if (p.caps.serverHash === 'sha256') return sha(bytes);
  const h = serverHasher(p.caps.serverHash);
  h?.update(bytes);
  return h?.digest();
}

function assertStored(p: Provider, got: RemoteObject | null, bytes: Buffer, what: string) {
  assert.ok(got, `${what}: stored`);
  assert.equal(got.size, bytes.length, `${what}: size`);
  const want = serverHashOf(p, bytes);
  if (got.hash !== undefined && want !== undefined)
    assert.ok(hashesEqual(p.caps.serverHash, got.hash, want), `${what}: hash ${got.hash}, want ${want}`);
}

async function readRange(p: Provider, oid: string, size: number, start: number, end: number) {
  const r = await rangeOpener(p)(oid, size, start, end);
  return { start: r.start, bytes: await fillToBuffer(r.body) };
}

/** A whole session: chunks of `chunk` bytes (the last one marked), then the finish unless a chunk committed. */
async function sendSession(p: Provider, session: UploadSession, bytes: Buffer, from: number, chunk: number) {
  let at = from;
  while (at < bytes.length) {
    const n = Math.min(chunk, bytes.length - at);
    const r = await p.uploadChunk(session, at, n, Readable.from([bytes.subarray(at, at + n)]), at + n === bytes.length);
    assert.ok(r.offset > at && r.offset <= at + n, `offset ${r.offset} after a chunk at ${at}`);
    if (r.committed) return r.committed;
    at = r.offset;
  }
  return p.finishUpload(session);
}

/** `faults`: the setup has the fault hooks of a server (ignoreNextRange, failNextStat, expireSessions). */
export function providerContract(name: string, setup: () => Promise<ContractSetup>, o: { faults: boolean }): void {
  describe(`provider contract: ${name}`, function () {
    this.timeout(60_000);
    let s: ContractSetup;
    let p: Provider;
    beforeEach(async () => {
      s = await setup();
      p = s.provider;
    });
    afterEach(() => s.close());

    /** Two aligned chunks and a short tail: the smallest object that exercises a real session. */
    const sessionBytes = () => randomBytes(2 * Math.max(p.caps.chunkAlign, 64 * 1024) + 1000);
    const chunkOf = () => Math.max(p.caps.chunkAlign, 64 * 1024);

    it('stat: absent is null; present has its size and hash; a wrong-size copy reports its real size', async () => {
      const data = randomBytes(3000);
      assert.equal(await p.stat(sha(data)), null);
      await s.putRaw(sha(data), data);
      assertStored(p, await p.stat(sha(data)), data, 'present');
      const other = randomBytes(10);
      const short = sha(randomBytes(3000));
      await s.putRaw(short, other);
      assert.equal((await p.stat(short))?.size, 10);
    });

    it('putSmall: 0 bytes, 1 byte and up to caps.simpleUploadMax; stat agrees', async () => {
      for (const n of [0, 1, Math.min(p.caps.simpleUploadMax, 1 << 20)]) {
        const data = randomBytes(n);
        const res = await p.putSmall(sha(data), n, Readable.from(n ? [data] : []));
        assertStored(p, res, data, `putSmall ${n}`);
        assertStored(p, await p.stat(sha(data)), data, `stat after putSmall ${n}`);
      }
    });

    it('putSmall whose body fails stores nothing', async () => {
      const data = randomBytes(5000);
      const body = new Readable({
        read() {
          this.push(data.subarray(0, 2000));
          this.destroy(new Error('the source failed verification'));
        },
      });
      await assert.rejects(p.putSmall(sha(data), data.length, body));
      assert.equal(await p.stat(sha(data)), null);
    });

    it('session: chunks in caps.chunkAlign multiples, queryUpload, commit; the object reads back whole', async () => {
      const data = sessionBytes();
      const oid = sha(data);
      const session = await p.startUpload(oid, data.length);
      const chunk = chunkOf();
      const first = await p.uploadChunk(session, 0, chunk, Readable.from([data.subarray(0, chunk)]), false);
      assert.equal(first.offset, chunk);
      assert.equal(first.committed, undefined, 'a chunk that does not end the object commits nothing');
      assert.equal(await p.queryUpload(session), chunk);
      assertStored(p, await sendSession(p, session, data, chunk, chunk), data, 'committed');
      assert.deepEqual((await readRange(p, oid, data.length, 0, data.length)).bytes, data);
    });

    it('resume: another instance continues from the server offset with the session handle kept as JSON', async () => {
      const data = sessionBytes();
      const oid = sha(data);
      const chunk = chunkOf();
      const session = await p.startUpload(oid, data.length);
      await p.uploadChunk(session, 0, chunk, Readable.from([data.subarray(0, chunk)]), false);
      const q = await s.another();
      const again = p.caps.sessionFromOid
        ? await q.startUpload(oid, data.length)
        : (JSON.parse(JSON.stringify(session)) as UploadSession);
      const at = await q.queryUpload(again);
      assert.equal(at, chunk, 'the server offset survives the process');
      assertStored(q, await sendSession(q, again, data, at, chunk), data, 'resumed');
    });

    it('a lost answer to the commit: the object is stored, and stat says so (the bridge adopts it)', async () => {
      const data = sessionBytes();
      const oid = sha(data);
      const session = await p.startUpload(oid, data.length);
      s.loseNextAnswer?.('finish');
      s.loseNextAnswer?.('last-chunk');
      await sendSession(p, session, data, 0, chunkOf()).catch(() => undefined); // the answer may be lost
      assertStored(p, await p.stat(oid), data, 'after a lost answer');
      if (!p.caps.sessionFromOid) {
        // The session is finished: asking about it says it is gone (or at its end), never "send it again".
        const after = await p.queryUpload(session).catch((e) => e);
        assert.ok(kindIs('NotFound')(after) || after === data.length, `queryUpload after the commit: ${after}`);
      }
    });

    it('ranged reads: whole, middle, last byte; an absent object is NotFound', async () => {
      const data = randomBytes(100_000);
      const oid = sha(data);
      await s.putRaw(oid, data);
      for (const [a, b] of [
        [0, data.length],
        [1234, 56_789],
        [data.length - 1, data.length],
      ]) {
        const r = await readRange(p, oid, data.length, a, b);
        assert.equal(r.start, a);
        assert.deepEqual(r.bytes, data.subarray(a, b), `[${a}, ${b})`);
      }
      await assert.rejects(readRange(p, sha(randomBytes(8)), 8, 0, 8), kindIs('NotFound'));
    });

    it('abortUpload leaves nothing stored; remove deletes a stored object', async () => {
      const data = sessionBytes();
      const oid = sha(data);
      const session = await p.startUpload(oid, data.length);
      await p.uploadChunk(session, 0, chunkOf(), Readable.from([data.subarray(0, chunkOf())]), false);
      await p.abortUpload(session);
      assert.equal(await p.stat(oid), null);
      if (p.remove) {
        await s.putRaw(oid, data);
        await p.remove(oid);
        assert.equal(await p.stat(oid), null);
      }
    });

    if (!o.faults) return; // a folder has no server to ignore a Range, rate-limit or expire a session
    describe('faults of a server', () => {
      it('a 200 answer to a Range request says it starts at 0; it is never passed off as the asked bytes', async () => {
        const data = randomBytes(50_000);
        const oid = sha(data);
        await s.putRaw(oid, data);
        s.ignoreNextRange!();
        const r = await readRange(p, oid, data.length, 1000, 2000);
        assert.equal(r.start, 0);
        assert.deepEqual(r.bytes, data);
      });

      it('error kinds: a rate limit is RateLimited with its wait, a server error retryable, a refused login Auth', async () => {
        const oid = sha(randomBytes(8));
        s.failNextStat!('rate-limit');
        const limited = await p.stat(oid).catch((e) => e);
        assert.ok(kindIs('RateLimited')(limited), String(limited));
        assert.ok((limited as BridgeError).retryAfterMs !== undefined, 'Retry-After carried');
        s.failNextStat!('server-error');
        const failed = await p.stat(oid).catch((e) => e);
        assert.ok(failed instanceof BridgeError && failed.retryable, String(failed));
        s.failNextStat!('auth');
        assert.ok(kindIs('Auth')(await p.stat(oid).catch((e) => e)));
      });

      it('an expired session is NotFound on queryUpload', async () => {
        const data = sessionBytes();
        const session = await p.startUpload(sha(data), data.length);
        s.expireSessions!();
        await assert.rejects(p.queryUpload(session), kindIs('NotFound'));
      });
    });
  });
}
