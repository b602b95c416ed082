import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../../src/config/index.js';
import { createLogger } from '../../../src/log.js';
import { specFor } from '../../../src/oauth/spec.js';
import { availableProviders, loadProviderModule, loginProviders, providerEntry } from '../../../src/providers/index.js';
import { objectKey } from '../../../src/providers/layout.js';

describe('providers (registry)', () => {
  it('objectKey is the .git/lfs/objects layout', () => {
    const oid = `abcd${'0'.repeat(60)}`;
    assert.deepEqual(objectKey(oid), ['ab', 'cd', oid]);
  });

  it('local loads lazily, with its capabilities', async () => {
    const local = await loadProviderModule('local');
    assert.equal(typeof local.create, 'function');
    assert.equal(local.caps.needsKeychain, false);
  });

  it('every entry loads, and its plain fields agree with the module and its login', async () => {
    for (const name of availableProviders) {
      const mod = await loadProviderModule(name);
      assert.equal(providerEntry(name).needsKeychain, mod.caps.needsKeychain, name);
      if (providerEntry(name).login) assert.equal((await specFor(name as 'dropbox')).provider, name);
    }
    assert.deepEqual(loginProviders, ['dropbox']);
  });

  it('a planned provider is "not in this build"; another name is unknown; both list what is', async () => {
    await assert.rejects(loadProviderModule('gdrive'), /the gdrive provider is not in this build/);
    await assert.rejects(loadProviderModule('ftp'), /unknown provider "ftp"/);
  });

  it('the registry is plain data: it imports nothing, so config and the contract may read it', async () => {
    const text = await readFile(new URL('../../../src/providers/registry.ts', import.meta.url), 'utf8');
    assert.doesNotMatch(text, /^\s*import\b|\bimport\(/m);
  });
});

describe('providers/local module: resolveRoot and pending', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lfsb-reg-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));
  const env = process.env;

  it('a relative folder is resolved against the work tree, a missing one created, one inside the tree noted', async () => {
    const local = await loadProviderModule('local');
    const r = await local.resolveRoot!('store', { env, top: dir });
    assert.equal(r.root, join(dir, 'store'));
    assert.match(r.notes.join('\n'), /created the store folder/);
    assert.match(r.notes.join('\n'), /inside the work tree/);
    await assert.rejects(local.resolveRoot!(join(dir, 'no/such/store'), { env }), /nor its parent exists/);
    await writeFile(join(dir, 'file'), 'x');
    await assert.rejects(local.resolveRoot!(join(dir, 'file'), { env }), /is not a folder/);
  });

  it('pending() lists the partials of uploads in the store, nothing else', async () => {
    const local = await loadProviderModule('local');
    const oid = 'ab'.repeat(32);
    await mkdir(join(dir, '.lfs-bridge-incoming'));
    await writeFile(join(dir, '.lfs-bridge-incoming', `${oid}.host.part`), Buffer.alloc(1234));
    await writeFile(join(dir, '.lfs-bridge-incoming', 'unrelated'), 'x');
    const config = parseConfig(
      new Map([
        ['lfs-bridge.provider', 'local'],
        ['lfs-bridge.root', dir],
      ]),
    );
    const got = await local.pending!({ config, env, cwd: dir, log: createLogger('test', {}, () => {}) });
    assert.equal(got.length, 1);
    assert.equal(got[0].oid, oid);
    assert.equal(got[0].bytesDone, 1234);
  });
});
