/** The adaptive stream count, driven window by window: what it decides for given throughputs, not how fast it runs. */
import assert from 'node:assert/strict';
import { FAST_STREAM, Ramp } from '../../../src/bridge/ramp.js';

const W = 250;
const MiB = 1024 * 1024;

/**
 * A ramp whose windows the test plays: `perStream(n)` is the bytes one window carries with n streams running
 * (a per-connection cap gives n × cap; a full link gives the same total whatever n).
 */
function drive(
  max: number,
  perWindow: (streams: number) => number,
  windows: number,
  canAdd = () => true,
  judge: 'throughput' | 'optimistic' = 'throughput',
  ceiling?: number,
) {
  let bytes = 0;
  let tick: (() => void) | undefined;
  const targets: number[] = [];
  const ramp = new Ramp({
    max,
    judge,
    ceiling,
    windowMs: W,
    bytes: () => bytes,
    canAdd,
    add: () => {},
    every: (t) => {
      tick = t;
      return () => {};
    },
  });
  for (let i = 0; i < windows; i++) {
    bytes += perWindow(ramp.target);
    (tick as () => void)();
    targets.push(ramp.target);
  }
  ramp.stop();
  return targets;
}

const capped = (cap: number) => (n: number) => n * cap; // each stream its own cap: every stream pays
const fullLink = (total: number) => () => total; // one link, shared: more streams add nothing

describe('bridge/ramp (adaptive stream count)', () => {
  it('under a per-connection cap, doubles to the maximum within four windows (about a second)', () => {
    const targets = drive(4, capped((2.7 * MiB * W) / 1000), 8);
    // settle, measure → 2, settle, measure → 4, then stays
    assert.deepEqual(targets, [1, 2, 2, 4, 4, 4, 4, 4]);
  });

  it('reaches 8 when 8 are allowed and each pays', () => {
    const targets = drive(8, capped(MiB), 8);
    assert.deepEqual(targets.slice(0, 6), [1, 2, 2, 4, 4, 8]);
    assert.equal(targets.at(-1), 8);
  });

  it('steps back and stops when the streams added last carry nothing (a full link), after three windows of it', () => {
    const targets = drive(4, fullLink(4 * MiB), 8);
    assert.deepEqual(targets, [1, 2, 2, 2, 2, 1, 1, 1]);
  });

  it('one bad window (a busy machine, a stall) does not take streams back: levels are judged on their average', () => {
    let at2 = 0;
    const targets = drive(
      4,
      (n) => {
        if (n !== 2) return n * MiB;
        at2++;
        return at2 === 2 ? 0.9 * MiB : 2 * MiB; // the first measured window at 2 streams carries less than one
      },
      8,
    );
    assert.equal(targets.at(-1), 4);
  });

  it('keeps streams that pay a little, but adds no more', () => {
    // 2 streams carry 1.3x of one: their share is 0.3 (between "nothing" and "well"), twice in a row.
    const targets = drive(4, (n) => (n === 1 ? 10 * MiB : 13 * MiB), 8);
    assert.deepEqual(targets, [1, 2, 2, 2, 2, 2, 2, 2]);
  });

  it('gives warming connections one more window before judging them', () => {
    let judged = 0;
    // The first measured window at 2 streams is low (connections warming), the next one is as it should be.
    const targets = drive(
      4,
      (n) => {
        if (n === 1) return 10 * MiB;
        judged++;
        return judged === 2 ? 13 * MiB : n * 10 * MiB;
      },
      8,
    );
    assert.equal(targets.at(-1), 4);
  });

  it('waits out the burst of an upload filling its socket buffers before judging (each new stream bursts)', () => {
    let last = 0;
    let since = 0;
    const cap = 0.67 * MiB; // a capped connection's bytes per window
    const targets = drive(
      4,
      (n) => {
        if (n !== last) {
          since = 0;
          last = n;
        }
        since++;
        const added = n === 1 ? 1 : n / 2; // streams that started at the last change
        // Each new connection swallows 8 MiB at once, then 3 MiB, then 1 MiB, then runs at its cap.
        const burst = [8, 3, 1][since - 1] ?? 0;
        return n * cap + added * burst * MiB;
      },
      20,
    );
    assert.equal(targets.at(-1), 4);
    assert.ok(targets.indexOf(4) <= 10, `4 streams after ${targets.indexOf(4) + 1} windows: ${targets}`);
  });

  it('optimistic (uploads): doubles to the maximum whatever the socket-level counts say, unless a stream is fast', () => {
    // An upload's counts: a whole piece into the socket buffers, then nothing until the server has read it.
    let w = 0;
    const bursty = () => (w++ % 4 === 0 ? 4 * MiB : 0);
    assert.deepEqual(
      drive(4, bursty, 8, () => true, 'optimistic'),
      [2, 4, 4, 4, 4, 4, 4, 4],
    );
    assert.deepEqual(drive(4, fullLink(4 * MiB), 8, () => true, 'optimistic').at(-1), 4);
    const fast = () => ((FAST_STREAM * W) / 1000) * 1.1;
    assert.deepEqual(
      drive(4, fast, 8, () => true, 'optimistic'),
      [1, 1, 1, 1, 1, 1, 1, 1],
    );
  });

  it('near the configured bandwidth limit (lfs-bridge.maxrate) adds no stream, in either mode', () => {
    const limit = 30 * MiB; // per second
    const atLimit = () => (limit * W) / 1000;
    assert.deepEqual(
      drive(4, atLimit, 6, () => true, 'throughput', limit),
      [1, 1, 1, 1, 1, 1],
    );
    assert.deepEqual(
      drive(4, atLimit, 6, () => true, 'optimistic', limit),
      [1, 1, 1, 1, 1, 1],
    );
    // Far below the limit (a capped connection), streams are added as without one.
    assert.equal(drive(4, capped(MiB), 8, () => true, 'throughput', limit).at(-1), 4);
  });

  it('never splits a stream that is already fast (the limit is on this machine)', () => {
    const targets = drive(4, () => ((FAST_STREAM * W) / 1000) * 1.1, 8);
    assert.deepEqual(targets, [1, 1, 1, 1, 1, 1, 1, 1]);
  });

  it('with one stream allowed, or no work left for another, stays at one', () => {
    assert.deepEqual(drive(1, capped(MiB), 6), [1, 1, 1, 1, 1, 1]);
    assert.deepEqual(
      drive(4, capped(MiB), 6, () => false),
      [1, 1, 1, 1, 1, 1],
    );
  });

  it('adds only as many as there is work for', () => {
    let left = 1;
    const targets = drive(4, capped(MiB), 6, () => left-- > 0);
    assert.deepEqual(targets.slice(0, 2), [1, 2]);
    assert.equal(Math.max(...targets), 2);
  });
});
