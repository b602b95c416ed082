import assert from 'node:assert/strict';
import { loadProviderModule, objectKey } from '../../../src/providers/index.js';

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
});
