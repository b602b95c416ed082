/**
 * AT-3: `lfs-bridge transfer` run directly with scripted stdin — valid transfers,
 * failures and malformed requests — writes nothing to stdout but LDJSON protocol messages, answers every request
 * that names an oid with exactly one `complete`, in order, and exits 0 after `terminate`. Also with
 * LFS_BRIDGE_DEBUG=1; also EOF without terminate, and a request before init. Downloads hand over verified files in
 * <lfs>/tmp and write nowhere but there, <lfs>/incomplete/lfs-bridge and the store.
 * See docs/protocol.md "Acceptance tests", "Messages", "Serving requests", "Progress".
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { type AgentRun, msg, runTransfer } from '../helpers/agent.js';
import {
  changedFiles,
  exists,
  MiB,
  type Obj,
  objectPath,
  sha256File,
  sizeOf,
  snapshot,
  writeBytes,
  writeRandomFile,
} from '../helpers/files.js';
import { Sandbox } from '../helpers/sandbox.js';

const EMPTY_OID = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const randomOid = () => randomBytes(32).toString('hex');

/** Every raw stdout line is one JSON object: the init reply `{}` or a progress/complete event. */
function checkLdjson(r: AgentRun, what: string): Record<string, unknown>[] {
  assert.ok(!r.stdout.includes('\r'), `${what}: \\r on stdout`);
  if (r.stdout) assert.ok(r.stdout.endsWith('\n'), `${what}: stdout does not end with a newline`);
  const out: Record<string, unknown>[] = [];
  for (const [i, line] of r.lines.entries()) {
    assert.notEqual(line.trim(), '', `${what}: blank line ${i} on stdout`);
    let m: unknown;
    try {
      m = JSON.parse(line);
    } catch {
      assert.fail(`${what}: stdout line ${i} is not JSON: ${JSON.stringify(line)}`);
    }
    assert.ok(m && typeof m === 'object' && !Array.isArray(m), `${what}: line ${i} is not an object: ${line}`);
    const o = m as Record<string, unknown>;
    if (line === '{}') {
      out.push(o);
      continue;
    }
    assert.ok(o.event === 'progress' || o.event === 'complete', `${what}: line ${i} has event ${o.event}: ${line}`);
    if (o.event === 'progress') {
      assert.ok(Number.isSafeInteger(o.bytesSoFar) && Number.isSafeInteger(o.bytesSinceLast), `${what}: ${line}`);
    }
    if (o.error !== undefined) {
      const e = o.error as { code: unknown; message: unknown };
      assert.ok(Number.isSafeInteger(e.code) && typeof e.message === 'string' && e.message, `${what}: ${line}`);
    }
    out.push(o);
  }
  return out;
}

/** Per request (in order): its complete, and checks that every oid got exactly one, in request order. */
function completesInOrder(msgs: Record<string, unknown>[], oids: string[], what: string) {
  const completes = msgs.filter((m) => m.event === 'complete');
  assert.deepEqual(
    completes.map((c) => c.oid),
    oids,
    `${what}: one complete per request, in request order`,
  );
  // Nothing follows an object's complete: no progress for that oid after it (unless it is requested again).
  const requested = (oid: unknown) => oids.filter((x) => x === oid).length;
  const done = new Map<unknown, number>();
  for (const m of msgs) {
    if (m.event === 'complete') done.set(m.oid, (done.get(m.oid) ?? 0) + 1);
    else if (m.event === 'progress')
      assert.ok((done.get(m.oid) ?? 0) < requested(m.oid), `${what}: progress after complete for ${m.oid}`);
  }
  return completes as { oid: string; path?: string; error?: { code: number; message: string } }[];
}

/** Stdout with oids replaced by role names, repeated progress collapsed: what must not depend on debug logging. */
function shape(msgs: Record<string, unknown>[], names: Map<string, string>): string[] {
  const out: string[] = [];
  for (const m of msgs) {
    const who = names.get(String(m.oid)) ?? String(m.oid);
    let s: string;
    if (m.event === undefined) s = JSON.stringify(m);
    else if (m.event === 'progress') s = `progress ${who}`;
    else s = `complete ${who} ${(m.error as { code?: number } | undefined)?.code ?? (m.path ? 'path' : 'ok')}`;
    if (out.at(-1) !== s) out.push(s);
  }
  return out;
}

/** One run of the whole AT-3 script in a fresh sandbox: uploads, then downloads of what was uploaded. */
interface Outcome {
  sb: Sandbox;
  store: string;
  lfs: string;
  names: Map<string, string>;
  o: Record<'small' | 'medium' | 'wrong' | 'empty', Obj>;
  bad: Record<'missingPath' | 'unknownEvent' | 'short' | 'upper' | 'traversal' | 'negative', string>;
  missing: string;
  wrongOp: string;
  u: AgentRun;
  d: AgentRun;
  /** Files written or changed by each session (relative to the sandbox). */
  upChanged: string[];
  downChanged: string[];
}

async function scenario(debug: boolean): Promise<Outcome> {
  const sb = await Sandbox.create('agent');
  const store = await sb.store();
  const remote = await sb.remote();
  const work = await sb.workRepo('work', remote, store);
  const env = sb.with(debug ? { LFS_BRIDGE_DEBUG: '1' } : {});
  const src = sb.path('src');
  const o = {
    small: await writeRandomFile(join(src, 'small'), 1000),
    medium: await writeRandomFile(join(src, 'medium'), 5 * MiB + 3), // > 4 MiB: the chunked path
    wrong: await writeRandomFile(join(src, 'wrong'), 200),
    empty: await writeBytes(join(src, 'empty'), ''),
  };
  assert.equal(o.empty.oid, EMPTY_OID);
  const bad = {
    missingPath: randomOid(),
    unknownEvent: randomOid(),
    short: randomOid().slice(0, 63),
    upper: randomOid().toUpperCase(),
    traversal: `../../../../../../${randomOid()}`.slice(0, 64),
    negative: randomOid(),
  };
  const names = new Map<string, string>();
  for (const [k, v] of Object.entries(o)) names.set(v.oid, k);
  for (const [k, v] of Object.entries(bad)) names.set(v, k);
  const up = (oid: string, size: number, path: string) => msg({ event: 'upload', oid, size, path, action: null });

  const before = await snapshot(sb.root);
  const u = await runTransfer(
    [
      msg({ event: 'init', operation: 'upload', remote: 'origin', concurrent: true, concurrenttransfers: 8 }),
      up(o.small.oid, o.small.size, o.small.path),
      up(o.medium.oid, o.medium.size, o.medium.path),
      up(bad.missingPath, 10, join(src, 'does-not-exist')),
      up(o.wrong.oid, o.wrong.size + 1, o.wrong.path),
      'hello: this is not JSON',
      '[1,2,3]',
      '',
      msg({ event: 'frobnicate', oid: bad.unknownEvent, size: 1 }),
      up(bad.short, 1, o.small.path),
      up(bad.upper, 1, o.small.path),
      up(bad.traversal, o.small.size, o.small.path),
      up(bad.negative, -5, o.small.path),
      up(o.empty.oid, 0, o.empty.path),
      msg({ event: 'terminate' }),
    ],
    { cwd: work, env },
  );
  const upChanged = changedFiles(before, await snapshot(sb.root));

  // Downloads read what the uploads stored; whatever they failed to store is planted, so both halves are tested.
  for (const x of [o.small, o.medium, o.empty]) {
    const dest = objectPath(store, x.oid);
    if (!(await exists(dest))) {
      await mkdir(dirname(dest), { recursive: true });
      await copyFile(x.path, dest);
    }
  }
  const missing = randomOid();
  const wrongOp = randomOid();
  names.set(missing, 'missing');
  names.set(wrongOp, 'upload-in-download-session');
  const down = (oid: string, size: number) => msg({ event: 'download', oid, size, action: null });
  const before2 = await snapshot(sb.root);
  const d = await runTransfer(
    [
      msg({ event: 'init', operation: 'download', remote: 'origin', concurrent: true, concurrenttransfers: 8 }),
      down(o.small.oid, o.small.size),
      down(o.medium.oid, o.medium.size),
      down(missing, 10),
      down(o.empty.oid, 0),
      'not json either',
      down(bad.short, 1),
      down(bad.traversal, 1),
      down(bad.negative, -1),
      up(wrongOp, o.small.size, o.small.path),
      msg({ event: 'terminate' }),
    ],
    { cwd: work, env },
  );
  const downChanged = changedFiles(before2, await snapshot(sb.root));
  return { sb, store, lfs: join(work, '.git', 'lfs'), names, o, bad, missing, wrongOp, u, d, upChanged, downChanged };
}

describe('e2e: AT-3, the agent on scripted stdin', function () {
  this.timeout(60_000);
  const runs: Outcome[] = [];
  before(async () => {
    runs.push(await scenario(false), await scenario(true));
  });
  after(async () => {
    for (const r of runs) await r.sb.cleanup();
  });

  for (const [i, label] of ['', ' (LFS_BRIDGE_DEBUG=1)'].entries()) {
    const upOrder = (r: Outcome) => [
      r.o.small.oid,
      r.o.medium.oid,
      r.bad.missingPath,
      r.o.wrong.oid,
      r.bad.unknownEvent,
      r.bad.short,
      r.bad.upper,
      r.bad.traversal,
      r.bad.negative,
      r.o.empty.oid,
    ];
    const downOrder = (r: Outcome) => [
      r.o.small.oid,
      r.o.medium.oid,
      r.missing,
      r.o.empty.oid,
      r.bad.short,
      r.bad.traversal,
      r.bad.negative,
      r.wrongOp,
    ];

    it(`upload session${label}: LDJSON only, one complete per request in order, 400 for each bad one, exit 0`, () => {
      const r = runs[i];
      assert.equal(r.u.code, 0, `exit code\n${r.u.stderr}`);
      const m = checkLdjson(r.u, 'upload');
      assert.equal(r.u.lines[0], '{}', 'the first line is the init reply');
      assert.equal(m.filter((x) => x.event === undefined).length, 1, 'one init reply');
      const c = completesInOrder(m, upOrder(r), 'upload');
      const code = (oid: string) => c.find((x) => x.oid === oid)?.error?.code;
      for (const oid of [r.o.small.oid, r.o.medium.oid]) assert.equal(code(oid), undefined, `${r.names.get(oid)}`);
      for (const oid of [r.o.wrong.oid, ...Object.values(r.bad)])
        assert.equal(code(oid), 400, `${r.names.get(oid)}: ${JSON.stringify(c.find((x) => x.oid === oid))}`);
    });

    it(`upload session${label}: objects stored byte-equal; nothing written outside the store`, async () => {
      const r = runs[i];
      for (const x of [r.o.small, r.o.medium]) assert.equal(await sha256File(objectPath(r.store, x.oid)), x.oid);
      assert.equal(await exists(objectPath(r.store, r.o.wrong.oid)), false);
      assert.deepEqual(
        r.upChanged.filter((p) => !p.startsWith('store/')),
        [],
        'upload wrote outside the store',
      );
    });

    it(`upload session${label}: the 0-byte object gets progress(0,0) and a successful complete`, async () => {
      const r = runs[i];
      const m = checkLdjson(r.u, 'upload');
      const c = m.find((x) => x.event === 'complete' && x.oid === EMPTY_OID);
      assert.deepEqual(c, { event: 'complete', oid: EMPTY_OID });
      assert.deepEqual(
        m.filter((x) => x.event === 'progress' && x.oid === EMPTY_OID).map((x) => [x.bytesSoFar, x.bytesSinceLast]),
        [[0, 0]],
      );
      assert.equal(await sizeOf(objectPath(r.store, EMPTY_OID)), 0);
    });

    it(`download session${label}: LDJSON only, in order, 404 for a missing oid, 400 for bad ones, exit 0`, () => {
      const r = runs[i];
      assert.equal(r.d.code, 0, `exit code\n${r.d.stderr}`);
      const m = checkLdjson(r.d, 'download');
      assert.equal(r.d.lines[0], '{}');
      const c = completesInOrder(m, downOrder(r), 'download');
      const code = (oid: string) => c.find((x) => x.oid === oid)?.error?.code;
      assert.equal(code(r.missing), 404);
      for (const oid of [r.bad.short, r.bad.traversal, r.bad.negative, r.wrongOp])
        assert.equal(code(oid), 400, r.names.get(oid));
    });

    it(`download session${label}: complete.path is a unique, byte-correct file under <lfs>/tmp (also for 0 bytes)`, async () => {
      const r = runs[i];
      const c = completesInOrder(checkLdjson(r.d, 'download'), downOrder(r), 'download');
      for (const x of [r.o.small, r.o.medium, r.o.empty]) {
        const done = c.find((y) => y.oid === x.oid);
        assert.ok(done && !done.error && done.path, `${r.names.get(x.oid)}: ${JSON.stringify(done)}`);
        const p = done.path as string;
        assert.ok(p.startsWith(`${join(r.lfs, 'tmp')}/`), `${p} is not under <lfs>/tmp`);
        assert.equal(await sizeOf(p), x.size, p);
        assert.equal(await sha256File(p), x.oid, `${p} content`);
      }
      assert.equal(new Set(c.filter((y) => y.path).map((y) => y.path)).size, 3, 'unique hand-over names');
    });

    it(`download session${label}: writes only under <lfs>/incomplete/lfs-bridge, <lfs>/tmp and the store`, () => {
      const r = runs[i];
      const lfs = relative(r.sb.root, r.lfs);
      const allowed = ['store/', `${lfs}/incomplete/lfs-bridge/`, `${lfs}/tmp/`];
      assert.deepEqual(
        r.downChanged.filter((p) => !allowed.some((a) => p.startsWith(a))),
        [],
      );
    });
  }

  it('stdout has the same shape with and without LFS_BRIDGE_DEBUG=1; stderr holds logs only with it', () => {
    const [quiet, debug] = runs;
    const shapes = (r: Outcome) => [shape(checkLdjson(r.u, 'u'), r.names), shape(checkLdjson(r.d, 'd'), r.names)];
    assert.deepEqual(shapes(debug), shapes(quiet));
    for (const line of `${quiet.u.stderr}${quiet.d.stderr}`.split('\n').filter(Boolean)) {
      assert.match(line, /^lfs-bridge transfer: /, 'stderr without debug: one-line errors from lfs-bridge');
    }
    assert.doesNotMatch(quiet.u.stderr, /init upload/, 'debug lines without LFS_BRIDGE_DEBUG');
    assert.match(quiet.u.stderr, /not JSON/, 'a skipped line is noted on stderr');
    assert.match(debug.u.stderr, /init upload/);
    assert.match(debug.d.stderr, /init download/);
  });

  describe('edges', () => {
    let sb: Sandbox;
    let work: string;
    let obj: Obj;
    before(async () => {
      sb = await Sandbox.create('agent-edges');
      work = await sb.workRepo('work', await sb.remote(), await sb.store());
      obj = await writeRandomFile(sb.path('src', 'obj'), 4096);
    });
    after(async () => sb?.cleanup());
    const init = msg({
      event: 'init',
      operation: 'upload',
      remote: 'origin',
      concurrent: true,
      concurrenttransfers: 1,
    });
    const upload = () => msg({ event: 'upload', oid: obj.oid, size: obj.size, path: obj.path, action: null });

    it('stdin EOF without terminate: the work queued is answered, then a stderr line and a non-zero exit', async () => {
      const r = await runTransfer([init, upload()], { cwd: work, env: sb.env });
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /\S/);
      const m = checkLdjson(r, 'eof');
      assert.deepEqual(completesInOrder(m, [obj.oid], 'eof')[0].error, undefined);
    });

    it('a transfer request before init gets an error complete; init and later requests still work', async () => {
      const r = await runTransfer([upload(), init, upload(), msg({ event: 'terminate' })], { cwd: work, env: sb.env });
      assert.equal(r.code, 0, r.stderr);
      const m = checkLdjson(r, 'before-init');
      const c = completesInOrder(m, [obj.oid, obj.oid], 'before-init');
      assert.equal(c[0].error?.code, 400);
      assert.equal(c[1].error, undefined);
      assert.ok(r.lines.indexOf('{}') > r.lines.findIndex((l) => l.includes('"complete"')), 'order of replies');
    });
  });
});
