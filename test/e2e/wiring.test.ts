/**
 * Wiring as git-lfs sees it: `git lfs env` lists lfs-bridge after setup and not after
 * `setup --remove`; `lfs-bridge status --json` agrees, and reports a partial download with its progress.
 * See docs/protocol.md "Wiring", S10.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { objectPath, sha256File, writeRandomFiles } from '../helpers/files.js';
import { describeRun } from '../helpers/run.js';
import { Sandbox } from '../helpers/sandbox.js';
import { checkProgress, exchanges, readTrace } from '../helpers/trace.js';

const transfers = (env: Map<string, string>, key: string) => (env.get(key) ?? '').split(',').map((s) => s.trim());

interface Status {
  wiring: { effective: boolean; agentRegistered: boolean; problems: string[]; provider?: string; root?: string };
  partials: { oid: string; kind: string; bytesDone: number; total?: number; stale: boolean; where: string }[];
}

describe('e2e: wiring and status', function () {
  this.timeout(60_000);
  let sb: Sandbox;
  let work: string;
  let store: string;
  before(async () => {
    sb = await Sandbox.create('wiring');
    store = await sb.store();
    work = await sb.workRepo('work', await sb.remote(), store);
  });
  after(async () => sb?.cleanup());

  /** status --json; it exits 0 only when nothing it reports is a problem. */
  const status = async (code = 0): Promise<Status> => {
    const r = await sb.bridge(work, ['status', '--json']);
    assert.equal(r.code, code, describeRun('lfs-bridge status --json', r));
    return JSON.parse(r.stdout) as Status;
  };

  it('after setup: git lfs env lists lfs-bridge both ways, and status says the wiring is effective', async () => {
    const env = await sb.lfsEnv(work);
    assert.ok(transfers(env, 'UploadTransfers').includes('lfs-bridge'), env.get('UploadTransfers'));
    assert.ok(transfers(env, 'DownloadTransfers').includes('lfs-bridge'), env.get('DownloadTransfers'));
    const s = await status();
    assert.equal(s.wiring.effective, true, JSON.stringify(s.wiring));
    assert.equal(s.wiring.agentRegistered, true);
    assert.equal(s.wiring.provider, 'local');
    assert.equal(s.wiring.root, store);
  });

  it('status reports a partial download (.part + .state sidecar) with bytesDone and total', async () => {
    const oid = 'ab'.repeat(32);
    const dir = join(work, '.git', 'lfs', 'incomplete', 'lfs-bridge');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `${oid}.part`), Buffer.alloc(12345, 7));
    await writeFile(join(dir, `${oid}.state`), JSON.stringify({ size: 99999 }));
    const s = await status();
    const p = s.partials.find((x) => x.oid === oid);
    assert.ok(p, JSON.stringify(s.partials));
    assert.equal(p.kind, 'download');
    assert.equal(p.bytesDone, 12345);
    assert.equal(p.total, 99999);
    assert.equal(p.stale, false);
    assert.equal(p.where, dir);
  });

  it('after setup --remove: git lfs env no longer lists lfs-bridge, and status says not effective', async () => {
    const r = await sb.bridge(work, ['setup', '--remove']);
    assert.equal(r.code, 0, describeRun('setup --remove', r));
    const env = await sb.lfsEnv(work);
    assert.ok(!transfers(env, 'UploadTransfers').includes('lfs-bridge'), env.get('UploadTransfers'));
    assert.ok(!transfers(env, 'DownloadTransfers').includes('lfs-bridge'), env.get('DownloadTransfers'));
    const s = await status(1);
    assert.equal(s.wiring.effective, false);
    assert.equal(s.wiring.agentRegistered, false);
    assert.ok(s.wiring.problems.length > 0);
    const left = await sb.git(work, ['config', '--local', '--get-regexp', 'lfs-bridge|customtransfer|standalone']);
    assert.equal(left.stdout, '', 'setup --remove left keys behind');
  });

  it('setup again (wired once more): lfs-bridge is back in git lfs env', async () => {
    await sb.bridgeOk(work, ['setup', '--provider', 'local', '--root', store]);
    const env = await sb.lfsEnv(work);
    assert.ok(transfers(env, 'UploadTransfers').includes('lfs-bridge'));
    assert.equal((await status()).wiring.effective, true);
  });

  it('setup --download-streams / --upload-streams write their keys; a bad number is refused with the range', async () => {
    const ok = await sb.bridge(work, [
      'setup',
      '--provider',
      'local',
      '--root',
      store,
      '--download-streams',
      '2',
      '--upload-streams',
      '3',
    ]);
    assert.equal(ok.code, 0, describeRun('setup with streams', ok));
    const get = async (k: string) => (await sb.git(work, ['config', '--get', k])).stdout.trim();
    assert.equal(await get('lfs-bridge.downloadstreams'), '2');
    assert.equal(await get('lfs-bridge.uploadstreams'), '3');
    const bad = await sb.bridge(work, ['setup', '--provider', 'local', '--root', store, '--upload-streams', '0']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--upload-streams takes a whole number from 1 to 64/);
    for (const k of ['lfs-bridge.downloadstreams', 'lfs-bridge.uploadstreams'])
      await sb.git(work, ['config', '--unset', k]);
  });

  it('lfs.customtransfer.lfs-bridge.concurrent=false: one agent process serves the whole push (docs/protocol.md S2)', async () => {
    const remote = await sb.remote('remote-serial.git');
    const serialStore = await sb.store('store-serial');
    const repo = await sb.workRepo('serial', remote, serialStore);
    const objs = await writeRandomFiles(repo, [10, 2000, 300_000]);
    await sb.commitAll(repo, 'objects');
    await sb.gitOk(repo, ['config', 'lfs.customtransfer.lfs-bridge.concurrent', 'false']);
    const file = sb.path('serial.trace');
    const push = await sb.git(repo, ['push', 'origin', 'main'], { GIT_TRACE: file, GIT_TRANSFER_TRACE: '1' });
    assert.equal(push.code, 0, describeRun('git push', push));
    const t = await readTrace(file);
    assert.deepEqual(t.started, ['0:0'], 'exactly one worker process');
    const xs = exchanges(t);
    assert.equal(xs.length, 3);
    for (const x of xs) checkProgress(x);
    for (const o of objs) assert.equal(await sha256File(objectPath(serialStore, o.oid)), o.oid);
    assert.doesNotMatch(t.text, /locks\/verify/, 'standalone agents never verify locks');
  });
});
