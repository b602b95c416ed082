import assert from 'node:assert/strict';
import { hashesEqual } from '../../../src/hash/index.js';

describe('hash/hashesEqual', () => {
  it('hex kinds compare in either case', () => {
    assert.ok(hashesEqual('sha256', 'ABCDEF', 'abcdef'));
    assert.ok(hashesEqual('dropbox', 'ab12', 'AB12'));
    assert.ok(!hashesEqual('sha256', 'ab12', 'ab13'));
  });

  it('QuickXorHash is base64: case is part of the value', () => {
    assert.ok(hashesEqual('quickxor', 'aGVsbG8=', 'aGVsbG8='));
    assert.ok(!hashesEqual('quickxor', 'aGVsbG8=', 'AGVSBG8='));
  });
});
