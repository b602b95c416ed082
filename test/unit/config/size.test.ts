import assert from 'node:assert/strict';
import { formatBytes, parseSize } from '../../../src/config/size.js';

describe('config/size', () => {
  describe('parseSize', () => {
    const cases: [string, number][] = [
      ['1048576', 1048576],
      ['0', 0],
      ['16MiB', 16 * 1024 ** 2],
      ['16mib', 16 * 1024 ** 2],
      ['16m', 16 * 1024 ** 2],
      ['16M', 16 * 1024 ** 2],
      ['512KiB', 512 * 1024],
      ['512k', 512 * 1024],
      ['1.5GiB', 1.5 * 1024 ** 3],
      ['2g', 2 * 1024 ** 3],
      ['10MB', 10_000_000],
      ['10kb', 10_000],
      ['1GB', 1e9],
      ['100b', 100],
      [' 16 MiB ', 16 * 1024 ** 2],
      ['2MiB/s', 2 * 1024 ** 2],
    ];
    for (const [input, want] of cases) {
      it(`${JSON.stringify(input)} → ${want}`, () => assert.equal(parseSize(input), want));
    }

    for (const input of ['', 'garbage', '16 parsecs', '-1', '1e6', '1,5m', 'MiB', '16MiBs', '1.2.3m']) {
      it(`${JSON.stringify(input)} is an error naming the key`, () => {
        assert.throws(
          () => parseSize(input, 'lfs-bridge.chunksize'),
          (e: Error) => e.message.includes('lfs-bridge.chunksize') && e.message.includes(JSON.stringify(input)),
        );
      });
    }

    it('rounds fractional bytes and refuses sizes beyond 2^53', () => {
      assert.equal(parseSize('1.5k'), 1536);
      assert.equal(parseSize('0.1k'), 102);
      assert.throws(() => parseSize('99999999999GiB'), /out of range/);
    });
  });

  describe('formatBytes', () => {
    it('uses binary units', () => {
      assert.equal(formatBytes(0), '0 B');
      assert.equal(formatBytes(1023), '1023 B');
      assert.equal(formatBytes(1024), '1.00 KiB');
      assert.equal(formatBytes(16 * 1024 ** 2), '16.0 MiB');
      assert.equal(formatBytes(1.5 * 1024 ** 3), '1.50 GiB');
    });
  });
});
