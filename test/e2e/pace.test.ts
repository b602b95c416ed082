/**
 * One pace per account across the agent processes: git-lfs runs 8 agents; when Dropbox tells one of them to slow
 * down (429 with Retry-After), none of the 8 sends a request until that time has passed. Real git + git-lfs + the
 * built agent against the fake Dropbox, which records when each request arrived.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type FakeDropbox, startFakeDropbox } from '../fakes/dropbox/server.js';
import { MiB, writeRandomFile } from '../helpers/files.js';
import { describeRun } from '../helpers/run.js';
import { Sandbox } from '../helpers/sandbox.js';

describe('e2e: one pace per account across the agent processes (fake Dropbox)', function () {
  this.timeout(180_000);
  let fake: FakeDropbox;
  let sb: Sandbox;

  beforeEach(async () => {
    fake = await startFakeDropbox();
    sb = await Sandbox.create('pace');
  });
  afterEach(async () => {
    await fake.close();
    await sb.cleanup();
  });

  it('a 429 seen by one of 8 agents holds all 8 until its Retry-After has passed; the push then completes', async () => {
    const env = {
      LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url,
      LFS_BRIDGE_DROPBOX_TOKEN: fake.issueToken().access,
      LFS_BRIDGE_LOG: sb.path('agents.log'),
    };
    const remote = await sb.remote();
    const work = sb.path('work');
    await sb.gitOk(sb.root, ['init', '-q', work]);
    await sb.gitOk(work, ['remote', 'add', 'origin', remote]);
    await sb.bridgeOk(work, ['setup', '--provider', 'dropbox', '--root', '/lfs/repo'], env);
    await sb.gitOk(work, ['config', 'lfs.concurrenttransfers', '8']);
    await sb.gitOk(work, ['lfs', 'track', '*.dat']);
    // 48 one-request uploads at 2 MiB/s each: ~0.5 s apiece, so all 8 agents are still busy when the 429 comes.
    const files = [];
    for (let i = 0; i < 48; i++) files.push(await writeRandomFile(join(work, `f${i}.dat`), 1 * MiB));
    await sb.gitOk(work, ['add', '.']);
    await sb.gitOk(work, ['commit', '-qm', 'objects']);
    fake.setUploadThrottle(2 * MiB);
    const retryAfterS = 4;
    fake.faults.add({
      route: '/2/files/upload',
      skip: 8,
      action: {
        kind: 'status',
        status: 429,
        headers: { 'Retry-After': String(retryAfterS) },
        body: JSON.stringify({
          error_summary: 'too_many_write_operations/..',
          error: { reason: { '.tag': 'too_many_write_operations' }, retry_after: retryAfterS },
        }),
      },
    });

    const push = await sb.git(work, ['push', '-q', 'origin', 'main'], env);
    assert.equal(push.code, 0, describeRun('push', push));
    assert.equal(fake.counters.faultsAt.length, 1, 'the 429 was served');
    for (const f of files) {
      const stored = fake.files.get(`/lfs/repo/${f.oid.slice(0, 2)}/${f.oid.slice(2, 4)}/${f.oid}`);
      assert.ok(stored?.equals(await readFile(f.path)), `${f.path} stored`);
    }

    // From a moment after the 429 (the agent that got it must record the hold, and a request another agent had
    // already cleared may still be on its way on a busy machine) until a little before its end, no request of any
    // agent reaches Dropbox. Without the shared pace the other 7 agents send dozens in that time.
    const t = fake.counters.faultsAt[0] as number;
    const during = fake.counters.arrivals
      .filter((a) => a.at > t + 1000 && a.at < t + retryAfterS * 1000 - 100)
      .map((a) => `${a.route} at +${a.at - t} ms`);
    assert.deepEqual(during, [], 'requests sent while the account was told to wait');
    const after = fake.counters.arrivals.filter((a) => a.at >= t + retryAfterS * 1000 - 100);
    assert.ok(after.length >= 10, `the remaining uploads went on after the hold (${after.length} requests)`);

    // Every agent that had work during the hold waited for it (one log line per agent process).
    const log = await readFile(sb.path('agents.log'), 'utf8');
    const waited = new Set(
      log
        .split('\n')
        .filter((l) => l.includes('the provider asked this account to slow down'))
        .map((l) => l.split(' ')[1]),
    );
    assert.ok(waited.size >= 4, `${waited.size} agent processes waited for the shared hold:\n${log.slice(-3000)}`);
  });
});
