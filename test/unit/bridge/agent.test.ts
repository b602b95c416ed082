import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { EMPTY_SHA256 } from '../../../src/hash/index.js';
import { createLogger } from '../../../src/log.js';

// biome-ignore lint/suspicious/noExplicitAny: protocol messages are checked field by field
type Msg = Record<string, any>;

/**
 * Loaded with import(), not a static import: under mocha on Node ≥ 20.19 (require(esm)) this file is compiled to
 * CommonJS, so its static imports are CJS instances of src/, while the agent loads providers with import() (ESM
 * instances). `instanceof BridgeError` then fails across the two copies and every provider error looks like a
 * 500. Importing the agent the same way keeps one copy of src/ in play, as in the real ESM build.
 */
let runAgent: typeof import('../../../src/bridge/agent.js').runAgent;

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, stdio: 'pipe' }).toString().trim();

/** An in-process agent on PassThrough pipes; every stdout line is parsed (and must parse). */
class Agent {
  readonly stdin = new PassThrough();
  readonly stdout = new PassThrough();
  readonly raw: string[] = [];
  readonly stderr: string[] = [];
  readonly done: Promise<number>;
  private readonly lines: Msg[] = [];
  private buf = '';
  private wake?: () => void;

  constructor(cwd: string, env: NodeJS.ProcessEnv) {
    this.stdout.on('data', (d: Buffer) => {
      this.buf += d.toString('utf8');
      for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        this.raw.push(line);
        this.lines.push(JSON.parse(line)); // throws (fails the test) on a non-JSON line
        this.wake?.();
      }
    });
    const log = createLogger('transfer', {}, (s) => this.stderr.push(s));
    this.done = runAgent({ stdin: this.stdin, stdout: this.stdout, cwd, env, log, progressIntervalMs: 20 });
  }

  send(msg: Msg | string): void {
    this.stdin.write(`${typeof msg === 'string' ? msg : JSON.stringify(msg)}\n`);
  }

  /** The next stdout message (within `ms`). */
  async next(ms = 10_000): Promise<Msg> {
    const deadline = Date.now() + ms;
    while (this.lines.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no message within ${ms} ms`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
      this.wake = undefined;
    }
    return this.lines.shift() as Msg;
  }

  /** Messages up to and including the `complete` for `oid`. */
  async untilComplete(oid: string): Promise<Msg[]> {
    const got: Msg[] = [];
    for (;;) {
      const m = await this.next();
      got.push(m);
      if (m.event === 'complete' && m.oid === oid) return got;
    }
  }

  async init(operation: 'upload' | 'download'): Promise<Msg> {
    this.send({ event: 'init', operation, remote: 'origin', concurrent: true, concurrenttransfers: 8 });
    return this.next();
  }

  async terminate(): Promise<number> {
    this.send({ event: 'terminate' });
    return this.done;
  }

  pending(): Msg[] {
    return [...this.lines];
  }
}

/** docs/protocol.md "Progress" rules 1–3 for one successful object: returns the progress events. */
function checkProgress(msgs: Msg[], oid: string, size: number): Msg[] {
  const progress = msgs.filter((m) => m.event === 'progress');
  assert.ok(progress.length >= 1, 'every success gets at least one progress event');
  let prev = 0;
  for (const p of progress) {
    assert.equal(p.oid, oid);
    assert.ok(Number.isInteger(p.bytesSoFar) && Number.isInteger(p.bytesSinceLast));
    assert.ok(p.bytesSoFar >= prev, 'bytesSoFar decreased');
    assert.equal(p.bytesSinceLast, p.bytesSoFar - prev);
    prev = p.bytesSoFar;
  }
  assert.equal(prev, size, 'the last progress is the size');
  assert.equal(msgs.at(-1)?.event, 'complete');
  assert.equal(msgs.at(-2)?.event, 'progress', 'complete follows the final progress');
  return progress;
}

const okComplete = (m: Msg | undefined, oid: string) => {
  assert.equal(m?.event, 'complete');
  assert.equal(m?.oid, oid);
  assert.equal(m?.error, undefined, `error: ${JSON.stringify(m?.error)}`);
};
const errComplete = (m: Msg | undefined, oid: string, code: number, re?: RegExp) => {
  assert.equal(m?.event, 'complete', JSON.stringify(m));
  assert.equal(m?.oid, oid);
  assert.equal(m?.error?.code, code, JSON.stringify(m?.error));
  assert.equal(typeof m?.error?.message, 'string');
  if (re) assert.match(m?.error?.message, re);
};

describe('bridge/agent: runAgent in process (local provider)', () => {
  let dir: string;
  let repo: string;
  let store: string;
  let env: NodeJS.ProcessEnv;
  let agents: Agent[];
  const savedGitEnv: Record<string, string | undefined> = {};

  before(async () => {
    ({ runAgent } = await import('../../../src/bridge/agent.js'));
    // The agent's git calls must not read the developer's own config.
    for (const k of ['GIT_CONFIG_NOSYSTEM', 'GIT_CONFIG_GLOBAL']) savedGitEnv[k] = process.env[k];
    process.env.GIT_CONFIG_NOSYSTEM = '1';
    process.env.GIT_CONFIG_GLOBAL = '/dev/null';
  });
  after(() => {
    for (const [k, v] of Object.entries(savedGitEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  beforeEach(async () => {
    dir = await realpath(await mkdtemp(join(tmpdir(), 'lfsb-agent-')));
    repo = join(dir, 'repo');
    store = join(dir, 'store');
    await mkdir(store);
    await mkdir(join(dir, 'home'));
    git(dir, 'init', '-q', repo);
    git(repo, 'config', 'lfs-bridge.provider', 'local');
    git(repo, 'config', 'lfs-bridge.root', store);
    env = {
      PATH: process.env.PATH,
      HOME: join(dir, 'home'),
      XDG_STATE_HOME: join(dir, 'state'),
      XDG_CONFIG_HOME: join(dir, 'config'),
    };
    agents = [];
  });

  afterEach(async () => {
    for (const a of agents) {
      a.stdin.end();
      await a.done.catch(() => {});
      for (const line of a.raw) {
        assert.ok(!line.includes('\r'), `\\r in ${line}`);
        assert.notEqual(line, '', 'blank stdout line');
        const m = JSON.parse(line);
        assert.ok(m && typeof m === 'object' && !Array.isArray(m));
        if ('event' in m) assert.ok(['progress', 'complete'].includes(m.event), line);
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  const agent = (cwd = repo) => {
    const a = new Agent(cwd, env);
    agents.push(a);
    return a;
  };

  /** A file with random content at a path outside the store; its oid. */
  async function object(size: number, name = `obj-${size}`) {
    const data = randomBytes(size);
    const oid = sha(data);
    const path = join(dir, 'src', name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, data);
    return { data, oid, path, size };
  }
  const stored = (oid: string) => join(store, oid.slice(0, 2), oid.slice(2, 4), oid);
  const lfsDir = () => join(repo, '.git', 'lfs');
  const incomplete = () => join(lfsDir(), 'incomplete', 'lfs-bridge');
  /** Our partials folder's entries ([] when a small object never needed it). */
  const leftovers = async () => readdir(incomplete()).catch(() => [] as string[]);
  async function putInStore(data: Buffer) {
    const oid = sha(data);
    await mkdir(dirname(stored(oid)), { recursive: true });
    await writeFile(stored(oid), data);
    return oid;
  }

  it('init → {}', async () => {
    const a = agent();
    assert.deepEqual(await a.init('upload'), {});
    assert.equal(await a.terminate(), 0);
  });

  it('uploads a file: progress events, then complete; stored at <root>/aa/bb/<oid>', async () => {
    const o = await object(300_000);
    const a = agent();
    await a.init('upload');
    a.send({ event: 'upload', oid: o.oid, size: o.size, path: o.path, action: null });
    const msgs = await a.untilComplete(o.oid);
    checkProgress(msgs, o.oid, o.size);
    okComplete(msgs.at(-1), o.oid);
    assert.deepEqual(Object.keys(msgs.at(-1) as Msg).sort(), ['event', 'oid']);
    assert.deepEqual(await readFile(stored(o.oid)), o.data);
    assert.equal(await a.terminate(), 0);
  });

  it('uploads a larger file in chunks (session path) with several progress events', async () => {
    git(repo, 'config', 'lfs-bridge.chunksize', '1MiB');
    const o = await object(5 * 1024 * 1024 + 123);
    const a = agent();
    await a.init('upload');
    a.send({ event: 'upload', oid: o.oid, size: o.size, path: o.path, action: null });
    const msgs = await a.untilComplete(o.oid);
    const progress = checkProgress(msgs, o.oid, o.size);
    assert.ok(progress.length >= 2, `${progress.length} progress events`);
    okComplete(msgs.at(-1), o.oid);
    assert.deepEqual(await readFile(stored(o.oid)), o.data);
    assert.deepEqual(await readdir(join(store, '.lfs-bridge-incoming')), [], 'no partial left in the store');
    assert.equal(await a.terminate(), 0);
  });

  it('re-upload of a stored object: a single progress(size,size), then complete', async () => {
    const o = await object(10_000);
    const a = agent();
    await a.init('upload');
    a.send({ event: 'upload', oid: o.oid, size: o.size, path: o.path, action: null });
    await a.untilComplete(o.oid);
    a.send({ event: 'upload', oid: o.oid, size: o.size, path: o.path, action: null });
    const msgs = await a.untilComplete(o.oid);
    assert.deepEqual(msgs, [
      { event: 'progress', oid: o.oid, bytesSoFar: o.size, bytesSinceLast: o.size },
      { event: 'complete', oid: o.oid },
    ]);
    assert.equal(await a.terminate(), 0);
  });

  it('upload with a wrong size, a missing path, or an unreadable path → complete 400', async () => {
    const o = await object(1000);
    const a = agent();
    await a.init('upload');
    a.send({ event: 'upload', oid: o.oid, size: 999, path: o.path, action: null });
    errComplete(await a.next(), o.oid, 400, /1000 bytes/);
    a.send({ event: 'upload', oid: o.oid, size: 1000, action: null });
    errComplete(await a.next(), o.oid, 400, /no path/);
    a.send({ event: 'upload', oid: o.oid, size: 1000, path: join(dir, 'nope'), action: null });
    errComplete(await a.next(), o.oid, 400, /cannot read/);
    a.send({ event: 'upload', oid: o.oid, size: 1000, path: dir, action: null });
    errComplete(await a.next(), o.oid, 400, /not a file/);
    await assert.rejects(readFile(stored(o.oid)), /ENOENT/);
    assert.equal(await a.terminate(), 0);
  });

  it('upload with an invalid oid → complete 400 for the oid as given, nothing stored', async () => {
    const o = await object(1000);
    const a = agent();
    await a.init('upload');
    const bad = `../${o.oid.slice(3)}`;
    a.send({ event: 'upload', oid: bad, size: 1000, path: o.path, action: null });
    errComplete(await a.next(), bad, 400, /invalid oid/);
    assert.deepEqual(await readdir(store), []);
    assert.equal(await a.terminate(), 0);
  });

  it('upload of a source whose content is not its oid → 422, nothing stored', async () => {
    const o = await object(2000);
    const wrongOid = sha(Buffer.from('something else'));
    const a = agent();
    await a.init('upload');
    a.send({ event: 'upload', oid: wrongOid, size: o.size, path: o.path, action: null });
    const msgs = await a.untilComplete(wrongOid);
    errComplete(msgs.at(-1), wrongOid, 422);
    await assert.rejects(readFile(stored(wrongOid)), /ENOENT/);
    assert.equal(await a.terminate(), 0);
  });

  it('download of a missing oid → complete 404', async () => {
    const a = agent();
    await a.init('download');
    const oid = sha(Buffer.from('never stored'));
    a.send({ event: 'download', oid, size: 12, action: null });
    const msgs = await a.untilComplete(oid);
    errComplete(msgs.at(-1), oid, 404);
    assert.equal(await a.terminate(), 0);
  });

  it('download → complete.path under <git-common-dir>/lfs/tmp with the right content', async () => {
    const data = randomBytes(700_000);
    const oid = await putInStore(data);
    const a = agent(join(repo)); // cwd: the work tree
    await a.init('download');
    a.send({ event: 'download', oid, size: data.length, action: null });
    const msgs = await a.untilComplete(oid);
    checkProgress(msgs, oid, data.length);
    const done = msgs.at(-1) as Msg;
    okComplete(done, oid);
    assert.equal(dirname(done.path), join(lfsDir(), 'tmp'));
    assert.match(done.path, new RegExp(`/lfs-bridge-${oid}-\\d+-[0-9a-f]+$`));
    assert.deepEqual(await readFile(done.path), data);
    assert.deepEqual(
      (await leftovers()).filter((n) => n.startsWith(oid)),
      [],
      'partial, sidecar and lock are gone',
    );
    assert.equal(await a.terminate(), 0);
  });

  it('download from a subdirectory uses the same LFS dir', async () => {
    const data = randomBytes(1000);
    const oid = await putInStore(data);
    await mkdir(join(repo, 'sub', 'dir'), { recursive: true });
    const a = agent(join(repo, 'sub', 'dir'));
    await a.init('download');
    a.send({ event: 'download', oid, size: data.length, action: null });
    const done = (await a.untilComplete(oid)).at(-1) as Msg;
    okComplete(done, oid);
    assert.equal(dirname(done.path), join(lfsDir(), 'tmp'));
    assert.equal(await a.terminate(), 0);
  });

  it('a corrupt stored object → 422; the partial is deleted and nothing is handed over', async () => {
    const data = randomBytes(50_000);
    const oid = await putInStore(data);
    const bad = Buffer.from(data);
    bad[1234] ^= 1;
    await writeFile(stored(oid), bad);
    const a = agent();
    await a.init('download');
    a.send({ event: 'download', oid, size: data.length, action: null });
    const msgs = await a.untilComplete(oid);
    errComplete(msgs.at(-1), oid, 422, /SHA-256/);
    assert.deepEqual(
      (await leftovers()).filter((n) => n.startsWith(oid)),
      [],
      'partial, sidecar or lock left behind',
    );
    assert.deepEqual(await readdir(join(lfsDir(), 'tmp')), [], 'nothing in <lfs>/tmp');
    assert.equal(await a.terminate(), 0);
  });

  it('resumes a valid .part prefix: the first progress is the prefix length', async () => {
    const data = randomBytes(1_400_000); // above TINY: small objects skip the partial
    const oid = await putInStore(data);
    await mkdir(incomplete(), { recursive: true });
    await writeFile(join(incomplete(), `${oid}.part`), data.subarray(0, 123_456));
    const a = agent();
    await a.init('download');
    a.send({ event: 'download', oid, size: data.length, action: null });
    const msgs = await a.untilComplete(oid);
    const progress = checkProgress(msgs, oid, data.length);
    assert.deepEqual(progress[0], { event: 'progress', oid, bytesSoFar: 123_456, bytesSinceLast: 123_456 });
    const done = msgs.at(-1) as Msg;
    okComplete(done, oid);
    assert.deepEqual(await readFile(done.path), data);
    assert.equal(await a.terminate(), 0);
  });

  it('a corrupt .part prefix is detected, discarded and downloaded again', async () => {
    const data = randomBytes(1_200_000);
    const oid = await putInStore(data);
    await mkdir(incomplete(), { recursive: true });
    const prefix = Buffer.from(data.subarray(0, 100_000));
    prefix[10] ^= 0xff;
    await writeFile(join(incomplete(), `${oid}.part`), prefix);
    const a = agent();
    await a.init('download');
    a.send({ event: 'download', oid, size: data.length, action: null });
    const msgs = await a.untilComplete(oid);
    const done = msgs.at(-1) as Msg;
    okComplete(done, oid);
    assert.deepEqual(await readFile(done.path), data);
    assert.equal(await a.terminate(), 0);
  });

  it('a live holder whose partial does not grow is waited for a while, then a private download leaves nothing in incomplete/', async () => {
    const { lockWait } = await import('../../../src/bridge/download.js');
    const saved = { ...lockWait };
    lockWait.idleMs = 400;
    try {
      const data = randomBytes(1_100_000);
      const oid = await putInStore(data);
      await mkdir(incomplete(), { recursive: true });
      const lock = join(incomplete(), `${oid}.lock`);
      await writeFile(lock, JSON.stringify({ pid: process.pid, time: Date.now() }));
      await writeFile(join(incomplete(), `${oid}.part`), data.subarray(0, 5000));
      const a = agent();
      await a.init('download');
      a.send({ event: 'download', oid, size: data.length, action: null });
      const msgs = await a.untilComplete(oid);
      const done = msgs.at(-1) as Msg;
      okComplete(done, oid);
      assert.equal(dirname(done.path), join(lfsDir(), 'tmp'));
      assert.deepEqual(await readFile(done.path), data);
      assert.deepEqual(
        (await readdir(incomplete())).sort(),
        [`${oid}.lock`, `${oid}.part`],
        "the other process's partial and lock stay; no private leftovers",
      );
      assert.equal((await readFile(join(incomplete(), `${oid}.part`))).length, 5000);
      assert.deepEqual(
        (await readdir(join(lfsDir(), 'tmp'))).filter((n) => n.endsWith('.state')),
        [],
      );
      assert.equal(await a.terminate(), 0);
    } finally {
      Object.assign(lockWait, saved);
    }
  });

  it('a live holder that lets go is waited for, and its partial continued (not a private download)', async () => {
    const data = randomBytes(1_100_000);
    const oid = await putInStore(data);
    await mkdir(incomplete(), { recursive: true });
    const lock = join(incomplete(), `${oid}.lock`);
    await writeFile(lock, JSON.stringify({ pid: process.pid, time: Date.now() }));
    await writeFile(join(incomplete(), `${oid}.part`), data.subarray(0, 5000));
    const a = agent();
    await a.init('download');
    a.send({ event: 'download', oid, size: data.length, action: null });
    setTimeout(() => void rm(lock, { force: true }), 300); // the holder finishes its work and releases
    const msgs = await a.untilComplete(oid);
    const progress = checkProgress(msgs, oid, data.length);
    assert.ok(
      progress[0].bytesSoFar >= 5000,
      `first progress ${progress[0].bytesSoFar}: the partial was not continued`,
    );
    okComplete(msgs.at(-1), oid);
    assert.deepEqual(await readFile((msgs.at(-1) as Msg).path), data);
    assert.equal(await a.terminate(), 0);
    assert.deepEqual(await leftovers(), []);
  });

  it("after a download, what dead processes left of that object in incomplete/ is gone; a live one's is kept", async () => {
    const data = randomBytes(1_100_000);
    const oid = await putInStore(data);
    await mkdir(incomplete(), { recursive: true });
    const dead = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).toString());
    const left = [`${oid}.state.${dead}.tmp`, `${oid}.lock.${dead}.0a1b2c3d.tmp`, `${oid}.${dead}-0a1b2c3d.part`];
    const live = `${oid}.state.${process.pid}.tmp`;
    for (const n of [...left, live]) await writeFile(join(incomplete(), n), 'x');
    const a = agent();
    await a.init('download');
    a.send({ event: 'download', oid, size: data.length, action: null });
    okComplete((await a.untilComplete(oid)).at(-1), oid);
    assert.equal(await a.terminate(), 0); // the lock goes once `complete` is out
    assert.deepEqual(await leftovers(), [live]);
  });

  it('a .part longer than the object restarts from zero', async () => {
    const data = randomBytes(1_030_000);
    const oid = await putInStore(data);
    await mkdir(incomplete(), { recursive: true });
    await writeFile(join(incomplete(), `${oid}.part`), randomBytes(1_040_000));
    const a = agent();
    await a.init('download');
    a.send({ event: 'download', oid, size: data.length, action: null });
    const msgs = await a.untilComplete(oid);
    checkProgress(msgs, oid, data.length);
    const done = msgs.at(-1) as Msg;
    okComplete(done, oid);
    assert.deepEqual(await readFile(done.path), data);
    assert.equal(await a.terminate(), 0);
  });

  it('malformed lines in between do not stop the agent and produce no stdout', async () => {
    const data = randomBytes(5000);
    const oid = await putInStore(data);
    const a = agent();
    await a.init('download');
    for (const junk of ['hello', '', '[1,2]', '{"event":"bogus"}', '{"event":', 'null', '   ']) a.send(junk);
    a.send({ event: 'download', oid, size: data.length, action: null });
    const msgs = await a.untilComplete(oid);
    okComplete(msgs.at(-1), oid);
    assert.ok(
      msgs.every((m) => m.oid === oid),
      `stray output: ${JSON.stringify(msgs)}`,
    );
    assert.ok(
      a.stderr.some((l) => /ignored: not JSON/.test(l)),
      'junk is noted on stderr',
    );
    assert.equal(await a.terminate(), 0);
  });

  it('a request before init → error complete; the agent goes on', async () => {
    const data = randomBytes(100);
    const oid = await putInStore(data);
    const a = agent();
    a.send({ event: 'download', oid, size: data.length, action: null });
    errComplete(await a.next(), oid, 400, /before a successful init/);
    assert.deepEqual(await a.init('download'), {});
    a.send({ event: 'download', oid, size: data.length, action: null });
    okComplete((await a.untilComplete(oid)).at(-1), oid);
    assert.equal(await a.terminate(), 0);
  });

  it('a request for the other operation → error complete', async () => {
    const o = await object(100);
    const a = agent();
    await a.init('download');
    a.send({ event: 'upload', oid: o.oid, size: o.size, path: o.path, action: null });
    errComplete(await a.next(), o.oid, 400, /upload request in a download session/);
    assert.equal(await a.terminate(), 0);
  });

  it('init with an unset provider → init error naming lfs-bridge setup', async () => {
    const bare = join(dir, 'plain');
    git(dir, 'init', '-q', bare);
    const a = agent(bare);
    const reply = await a.init('upload');
    assert.deepEqual(Object.keys(reply), ['error']);
    assert.equal(reply.error.code, 400);
    assert.match(reply.error.message, /lfs-bridge setup/);
    assert.equal(await a.terminate(), 0);
  });

  it('init with a vanished local root → init error naming the root', async () => {
    await rm(store, { recursive: true });
    const a = agent();
    const reply = await a.init('download');
    assert.equal(reply.error?.code, 400);
    assert.ok(String(reply.error?.message).includes(store));
    assert.equal(await a.terminate(), 0);
  });

  it('an init that fails validation still gets an init reply (git-lfs blocks until it does)', async () => {
    const a = agent();
    a.send({ event: 'init', operation: 'sideways', remote: 'origin', concurrent: true, concurrenttransfers: 8 });
    const reply = await a.next(1_000).catch((e: Error) => ({ timeout: e.message }));
    assert.ok('error' in reply, `no init reply: ${JSON.stringify(reply)}`);
    assert.equal(reply.error.code, 400);
  });

  it('terminate → resolves 0 with nothing more on stdout', async () => {
    const a = agent();
    await a.init('upload');
    assert.equal(await a.terminate(), 0);
    assert.deepEqual(a.pending(), []);
  });

  it('stdin EOF without terminate → resolves 1 and says why on stderr', async () => {
    const a = agent();
    await a.init('upload');
    a.stdin.end();
    assert.equal(await a.done, 1);
    assert.ok(a.stderr.some((l) => /stdin closed without terminate/.test(l)));
  });

  it('requests are served strictly in order, each answered once', async () => {
    const objs = await Promise.all([100, 2000, 30_000].map((n) => object(n)));
    const a = agent();
    await a.init('upload');
    for (const o of objs) a.send({ event: 'upload', oid: o.oid, size: o.size, path: o.path, action: null });
    for (const o of objs) {
      const msgs = await a.untilComplete(o.oid);
      assert.ok(
        msgs.every((m) => m.oid === o.oid),
        'messages for another oid interleaved',
      );
      checkProgress(msgs, o.oid, o.size);
    }
    assert.equal(await a.terminate(), 0);
  });

  it('zero-byte object: upload', async () => {
    const path = join(dir, 'empty');
    await writeFile(path, '');
    const a = agent();
    await a.init('upload');
    a.send({ event: 'upload', oid: EMPTY_SHA256, size: 0, path, action: null });
    const msgs = await a.untilComplete(EMPTY_SHA256);
    okComplete(msgs.at(-1), EMPTY_SHA256);
    assert.deepEqual(msgs[0], { event: 'progress', oid: EMPTY_SHA256, bytesSoFar: 0, bytesSinceLast: 0 });
    assert.equal((await readFile(stored(EMPTY_SHA256))).length, 0);
    assert.equal(await a.terminate(), 0);
  });

  it('zero-byte object: download', async () => {
    await putInStore(Buffer.alloc(0));
    const a = agent();
    await a.init('download');
    a.send({ event: 'download', oid: EMPTY_SHA256, size: 0, action: null });
    const msgs = await a.untilComplete(EMPTY_SHA256);
    assert.deepEqual(msgs[0], { event: 'progress', oid: EMPTY_SHA256, bytesSoFar: 0, bytesSinceLast: 0 });
    const done = msgs.at(-1) as Msg;
    okComplete(done, EMPTY_SHA256);
    assert.equal((await readFile(done.path)).length, 0);
    assert.equal(await a.terminate(), 0);
  });
});
