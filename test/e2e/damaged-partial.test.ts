/**
 * A resumed `local` upload never commits a damaged partial: push a big object, kill -9 the agents part-way, damage
 * the partial in <root>/.lfs-bridge-incoming/ (14 bytes overwritten at offset 1000, or its last MiB zeroed as a
 * power cut leaves a file whose length covers blocks never written), push again: the push succeeds and the object
 * stored under the oid's name hashes to the oid.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ls, MiB, type Obj, objectPath, sha256File, sizeOf, writeRandomFile } from '../helpers/files.js';
import { killAgentsWhen } from '../helpers/proc.js';
import { describeRun } from '../helpers/run.js';
import { Sandbox } from '../helpers/sandbox.js';

const damages: [string, (fh: Awaited<ReturnType<typeof open>>, size: number) => Promise<unknown>][] = [
  ['14 bytes overwritten at offset 1000', (fh) => fh.write(Buffer.from('DAMAGED-BYTES!'), 0, 14, 1000)],
  ['its last MiB zeroed (a power cut)', (fh, size) => fh.write(Buffer.alloc(MiB), 0, MiB, size - MiB)],
];

describe('e2e: a damaged partial in a local store is never committed', function () {
  this.timeout(240_000);
  let sb: Sandbox;
  let work: string;
  let big: Obj;
  before(async () => {
    sb = await Sandbox.create('damaged');
    work = await sb.workRepo('work', await sb.remote(), await sb.store());
    big = await writeRandomFile(join(work, 'big.dat'), 200 * MiB);
    await sb.commitAll(work, 'big');
  });
  after(async () => sb?.cleanup());

  for (const [what, damage] of damages)
    it(`after kill -9 part-way and ${what}, the next push stores the object whose SHA-256 is the oid`, async () => {
      const name = what.split(' ')[1];
      const store = await sb.store(`store-${name}`);
      const remote = await sb.remote(`remote-${name}.git`);
      await sb.gitOk(work, ['config', 'lfs-bridge.root', store]);
      await sb.gitOk(work, ['config', 'lfs-bridge.maxrate', '40MiB']);
      const incoming = join(store, '.lfs-bridge-incoming');
      // The partial's size, polled synchronously by killAgentsWhen.
      const size = () => {
        const n = (existsSync(incoming) ? readdirSync(incoming) : []).find(
          (x) => x.startsWith(`${big.oid}.`) && x.endsWith('.part'),
        );
        return n ? (statSync(join(incoming, n), { throwIfNoEntry: false })?.size ?? 0) : 0;
      };
      const killer = killAgentsWhen(() => size() > 30 * MiB);
      const first = await sb.git(work, ['push', remote, 'main'], {}, { onSpawn: killer.onSpawn });
      assert.ok(killer.killed(), describeRun('the push was not interrupted', first));
      const names = (await ls(incoming)).filter((n) => n.startsWith(big.oid) && n.endsWith('.part'));
      assert.equal(names.length, 1, `partials: ${names}`);
      const part = join(incoming, names[0]);
      const had = await sizeOf(part);
      assert.ok(had > 2 * MiB && had < big.size, `the partial holds ${had}`);
      const fh = await open(part, 'r+');
      try {
        await damage(fh, had);
      } finally {
        await fh.close();
      }

      await sb.gitOk(work, ['config', '--unset', 'lfs-bridge.maxrate']);
      const log = sb.path(`push-${name}.log`);
      const again = await sb.git(work, ['push', remote, 'main'], { LFS_BRIDGE_DEBUG: '1', LFS_BRIDGE_LOG: log });
      assert.equal(again.code, 0, describeRun('the push after the damage', again));
      assert.equal(await sha256File(objectPath(store, big.oid)), big.oid, 'the stored object is not the oid');
      const text = await readFile(log, 'utf8');
      assert.match(text, new RegExp(`resuming ${big.oid} upload at byte ${had}: `));
      assert.match(text, new RegExp(`hashes to [0-9a-f]{64} .*sending ${big.oid} again from byte 0`));
      assert.deepEqual(await ls(incoming), [], "the store's incoming folder after the push");
    });
});
