/**
 * Interruption: kill -9 the node agent in the middle of a throttled 100 MiB download or
 * upload, run the command again, and it continues from the partial: the resumed transfer's first progress event
 * already reports at least the bytes the partial held, and the result is byte-equal.
 * See docs/protocol.md S14, docs/architecture.md "Resume state".
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { copyBig, exists, ls, type Obj, objectPath, sha256File, sizeOf } from '../helpers/files.js';
import { agentWithOpenFile, alive, waitFor } from '../helpers/proc.js';
import { describeRun, type RunResult } from '../helpers/run.js';
import { Sandbox } from '../helpers/sandbox.js';
import { checkProgress, exchanges, readTrace } from '../helpers/trace.js';

const KILL_AFTER = 20 * 1000 * 1000; // > 20 MB in the partial

/**
 * Runs a git command, and once `partial()` names a file holding more than KILL_AFTER bytes, SIGKILLs the agent
 * process (node, below this command) that has that file open. Returns the command's result and the partial's
 * size once the agent is dead.
 */
async function runAndKill(
  sb: Sandbox,
  cwd: string,
  args: string[],
  partial: () => Promise<string | null>,
): Promise<{ r: RunResult; killedAt: number }> {
  let child: ChildProcess | undefined;
  const running = sb.git(cwd, args, {}, { onSpawn: (c) => (child = c) });
  let finished = false;
  void running.then(() => (finished = true));
  const path = await waitFor(
    `a partial over ${KILL_AFTER} bytes`,
    async () => {
      if (finished) throw new Error(describeRun(`git ${args.join(' ')} finished before the kill`, await running));
      const p = await partial();
      return p && (await sizeOf(p)) > KILL_AFTER ? p : null;
    },
    60_000,
  );
  const agent = await waitFor('the agent holding the partial', () =>
    agentWithOpenFile(child?.pid as number, (f) => f === path),
  );
  process.kill(agent.pid, 'SIGKILL');
  await waitFor('the agent to die', async () => !alive(agent.pid), 10_000);
  const killedAt = await sizeOf(path);
  return { r: await running, killedAt };
}

describe('e2e: interruption and resume (kill -9 of the agent)', function () {
  this.timeout(150_000);
  let sb: Sandbox;
  let remote: string;
  let store: string;
  let work: string;
  let big: Obj;
  before(async () => {
    sb = await Sandbox.create('resume');
    remote = await sb.remote();
    store = await sb.store();
    work = await sb.workRepo('work', remote, store);
    big = await copyBig(join(work, 'huge.dat'));
    await sb.commitAll(work, 'huge');
  });
  after(async () => sb?.cleanup());

  it('download: git lfs pull again continues the .part (first progress ≥ its size) and restores the file', async () => {
    // The object is already in the store (planted), and the refs on the remote.
    const storeCopy = objectPath(store, big.oid);
    await mkdir(dirname(storeCopy), { recursive: true });
    await copyFile(big.path, storeCopy);
    await sb.gitOk(work, ['push', '-q', '--no-verify', 'origin', 'main']);
    const clone = await sb.clone(remote, 'clone', store);
    await sb.gitOk(clone, ['config', 'lfs-bridge.maxrate', '40MiB']);
    const part = join(clone, '.git', 'lfs', 'incomplete', 'lfs-bridge', `${big.oid}.part`);

    const { r, killedAt } = await runAndKill(sb, clone, ['lfs', 'pull'], async () => part);
    assert.notEqual(r.code, 0, describeRun('the interrupted git lfs pull', r));
    assert.ok(killedAt > KILL_AFTER && killedAt < big.size, `partial at ${killedAt}`);
    // A sequential .part resumes from its length. A segmented one (parallel ranges) may have holes: its sidecar,
    // which lags the file by at most the segments in flight, says what is done.
    const state = JSON.parse(await readFile(part.replace(/\.part$/, '.state'), 'utf8').catch(() => '{}'));
    const resumable = Array.isArray(state.segments)
      ? (state.segments as { done: number }[]).reduce((n, x) => n + x.done, 0)
      : killedAt;
    assert.ok(resumable > 0, `nothing resumable: ${JSON.stringify(state)}`);
    assert.equal(await exists(objectPath(join(clone, '.git', 'lfs', 'objects'), big.oid)), false);

    const file = sb.path('resume-pull.trace');
    const again = await sb.git(clone, ['lfs', 'pull'], { GIT_TRACE: file, GIT_TRANSFER_TRACE: '1' });
    assert.equal(again.code, 0, describeRun('git lfs pull (resumed)', again));
    const x = exchanges(await readTrace(file)).filter((e) => e.oid === big.oid);
    assert.equal(x.length, 1);
    checkProgress(x[0]);
    const first = x[0].progress[0].msg.bytesSoFar as number;
    assert.ok(first >= resumable, `first progress ${first} < the partial's ${resumable} bytes: not resumed`);
    assert.equal(await sha256File(join(clone, 'huge.dat')), big.oid);
    assert.deepEqual(
      (await ls(dirname(part))).filter((n) => n.startsWith(big.oid) && /\.(part|lock)$/.test(n)),
      [],
    );
  });

  it('upload: git push again continues the store partial in .lfs-bridge-incoming and stores it byte-equal', async () => {
    const store2 = await sb.store('store-upload');
    const remote2 = await sb.remote('remote-upload.git');
    await sb.gitOk(work, ['remote', 'add', 'up', remote2]);
    await sb.gitOk(work, ['config', 'lfs-bridge.root', store2]);
    await sb.gitOk(work, ['config', 'lfs-bridge.maxrate', '40MiB']);
    const incoming = join(store2, '.lfs-bridge-incoming');
    const findPartial = async () => {
      const name = (await ls(incoming)).find((n) => n.startsWith(`${big.oid}.`) && n.endsWith('.part'));
      return name ? join(incoming, name) : null;
    };

    const { r, killedAt } = await runAndKill(sb, work, ['push', 'up', 'main'], findPartial);
    assert.notEqual(r.code, 0, describeRun('the interrupted git push', r));
    assert.ok(killedAt > KILL_AFTER && killedAt < big.size, `partial at ${killedAt}`);
    assert.equal(await exists(objectPath(store2, big.oid)), false, 'a partial object under its final name');

    const file = sb.path('resume-push.trace');
    const again = await sb.git(work, ['push', 'up', 'main'], { GIT_TRACE: file, GIT_TRANSFER_TRACE: '1' });
    assert.equal(again.code, 0, describeRun('git push (resumed)', again));
    const x = exchanges(await readTrace(file)).filter((e) => e.oid === big.oid);
    assert.equal(x.length, 1);
    checkProgress(x[0]);
    const first = x[0].progress[0].msg.bytesSoFar as number;
    assert.ok(first >= killedAt, `first progress ${first} < the partial's ${killedAt} bytes: not resumed`);
    assert.ok(first < big.size, 'the object was not sent at all after the restart');
    assert.equal(await sha256File(objectPath(store2, big.oid)), big.oid);
    assert.deepEqual(await ls(incoming), [], 'the partial is left in the store');
  });
});
