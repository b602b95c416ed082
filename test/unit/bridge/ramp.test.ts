/**
 * The adaptive stream count, tick by tick with scripted byte counts: the decisions as counts, where a test through
 * real transfers would depend on the speed of the machine.
 */
import assert from 'node:assert/strict';
import { FAST_STREAM, Ramp } from '../../../src/bridge/ramp.js';

/** A ramp whose own timer never fires (the test ticks it), with `max` streams and a scripted byte counter. */
function ramp(max: number, canAdd = () => true) {
  let bytes = 0;
  const added: number[] = [];
  const r = new Ramp({ max, intervalMs: 1_000_000_000, bytes: () => bytes, canAdd, add: () => added.push(r.target) });
  /** One interval of 1 s in which `rate` bytes moved. */
  const tick = (rate: number) => {
    bytes += rate;
    (r as unknown as { tick(interval: number): void }).tick(1000);
    return r.target;
  };
  return { r, tick, added };
}

describe('bridge/ramp', () => {
  it('adds one stream per interval while the total grew by 10 % or more, up to the maximum', () => {
    const { r, tick, added } = ramp(4);
    try {
      assert.deepEqual([tick(1e6), tick(2e6), tick(2.2e6), tick(3e6), tick(4e6)], [2, 3, 4, 4, 4]);
      assert.deepEqual(added, [2, 3, 4]);
    } finally {
      r.stop();
    }
  });

  it('steps back when the stream added last did not pay, and adds none after', () => {
    const { r, tick, added } = ramp(8);
    try {
      assert.deepEqual([tick(1e6), tick(2e6), tick(2.1e6)], [2, 3, 2]);
      for (const rate of [9e6, 20e6, 40e6]) tick(rate);
      assert.deepEqual(added, [2, 3]);
    } finally {
      r.stop();
    }
  });

  it('never splits a stream that is already fast, nor adds one without work for it', () => {
    const fast = ramp(4);
    const idle = ramp(4, () => false);
    try {
      assert.deepEqual([fast.tick(FAST_STREAM), fast.tick(2 * FAST_STREAM)], [1, 1]);
      assert.deepEqual([idle.tick(1e6), idle.tick(2e6)], [1, 1]);
      assert.deepEqual([...fast.added, ...idle.added], []);
    } finally {
      fast.r.stop();
      idle.r.stop();
    }
  });
});
