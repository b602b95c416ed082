import assert from 'node:assert/strict';
import { ProgressMeter } from '../../../src/bridge/progress.js';
import type { ProgressEvent } from '../../../src/bridge/protocol.js';

const OID = 'cd'.repeat(32);
const INTERVAL = 40;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A meter with a hand-driven clock; the timer itself is real but short. */
function meter(size: number, interval = INTERVAL) {
  const events: ProgressEvent[] = [];
  const clock = { t: 1_000_000 };
  const m = new ProgressMeter(
    OID,
    size,
    (e) => events.push(e),
    interval,
    () => clock.t,
  );
  return { m, events, clock };
}

/** docs/protocol.md "Progress" rules 1–2 on any event sequence. */
function checkInvariants(events: ProgressEvent[]) {
  let prev = 0;
  for (const e of events) {
    assert.equal(e.event, 'progress');
    assert.equal(e.oid, OID);
    assert.ok(Number.isInteger(e.bytesSoFar) && Number.isInteger(e.bytesSinceLast));
    assert.ok(e.bytesSoFar >= prev, `bytesSoFar went down: ${prev} → ${e.bytesSoFar}`);
    assert.equal(e.bytesSinceLast, e.bytesSoFar - prev);
    prev = e.bytesSoFar;
  }
  return prev;
}

describe('bridge/progress: ProgressMeter', () => {
  it('emits the first non-zero update at once', () => {
    const { m, events } = meter(1000);
    m.update(0);
    assert.equal(events.length, 0, 'zero moves nothing');
    m.update(1);
    assert.deepEqual(events, [{ event: 'progress', oid: OID, bytesSoFar: 1, bytesSinceLast: 1 }]);
    m.stop();
  });

  it('throttles to one event per interval; the timer sends the latest pending value', async () => {
    const { m, events, clock } = meter(1000);
    m.update(10);
    clock.t += 5;
    m.update(20);
    clock.t += 5;
    m.update(30);
    assert.equal(events.length, 1, 'later updates within the interval are held');
    await sleep(INTERVAL * 3);
    assert.equal(events.length, 2, 'the timer flushed the pending value once');
    assert.deepEqual(events[1], { event: 'progress', oid: OID, bytesSoFar: 30, bytesSinceLast: 20 });
    m.stop();
  });

  it('an update after the interval has passed goes out immediately', () => {
    const { m, events, clock } = meter(1000);
    m.update(10);
    clock.t += INTERVAL;
    m.update(11);
    assert.equal(events.length, 2);
    m.stop();
  });

  it('never more than one event per interval under a burst of updates', async () => {
    const events: ProgressEvent[] = [];
    const stamps: number[] = [];
    const interval = 30;
    const m = new ProgressMeter(
      OID,
      1_000_000,
      (e) => {
        events.push(e);
        stamps.push(performance.now());
      },
      interval,
    ); // real clock
    // Counts, not a fixed span of time: a busy machine stretches the run but cannot change what is checked.
    const start = performance.now();
    let v = 0;
    while (events.length < 6) {
      m.update(++v);
      await sleep(1);
    }
    const span = performance.now() - start;
    const n = events.length;
    m.finish();
    checkInvariants(events);
    assert.ok(n <= span / (interval - 5) + 1, `${n} events in ${span} ms at ${interval} ms`);
    // The first and the last (finish) are exempt; the ones between keep the interval (timer slack allowed).
    for (let i = 1; i < stamps.length - 1; i++) {
      assert.ok(
        stamps[i] - stamps[i - 1] >= interval - 5,
        `events ${i - 1},${i} ${stamps[i] - stamps[i - 1]} ms apart`,
      );
    }
  });

  it('holds lower values: re-sent bytes count once', () => {
    const { m, events, clock } = meter(100);
    m.update(50);
    clock.t += INTERVAL;
    m.update(20); // a retried chunk starts again lower
    m.update(40);
    m.update(50);
    assert.equal(events.length, 1, 'nothing until the real position passes the reported maximum');
    m.update(60);
    assert.equal(events.length, 2);
    assert.deepEqual(events[1], { event: 'progress', oid: OID, bytesSoFar: 60, bytesSinceLast: 10 });
    m.finish();
    assert.equal(checkInvariants(events), 100);
  });

  it('Σ bytesSinceLast == bytesSoFar == size over a random walk', async () => {
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const { m, events, clock } = meter(10_000, 5);
    let pos = 0;
    for (let i = 0; i < 300; i++) {
      pos = rnd() < 0.2 ? Math.max(0, pos - Math.floor(rnd() * 500)) : pos + Math.floor(rnd() * 100);
      m.update(pos);
      clock.t += Math.floor(rnd() * 4);
      if (i % 50 === 0) await sleep(10);
    }
    m.finish();
    assert.equal(checkInvariants(events), 10_000);
    assert.equal(
      events.reduce((s, e) => s + e.bytesSinceLast, 0),
      10_000,
    );
    assert.equal(events.at(-1)?.bytesSoFar, 10_000);
  });

  it('finish() emits size, once', () => {
    const { m, events } = meter(500);
    m.update(100);
    m.finish();
    assert.deepEqual(events.at(-1), { event: 'progress', oid: OID, bytesSoFar: 500, bytesSinceLast: 400 });
    const n = events.length;
    m.finish();
    assert.equal(events.length, n, 'a second finish adds nothing');
  });

  it('finish() of an object already reported in full adds nothing', () => {
    const { m, events } = meter(500);
    m.update(500);
    assert.equal(events.length, 1, 'reaching the size is sent at once');
    m.finish();
    assert.equal(events.length, 1);
  });

  it('finish() with nothing reported sends one progress(size,size) (object already on the remote)', () => {
    const { m, events } = meter(4096);
    m.finish();
    assert.deepEqual(events, [{ event: 'progress', oid: OID, bytesSoFar: 4096, bytesSinceLast: 4096 }]);
  });

  it('size 0: finish() sends progress(0,0)', () => {
    const { m, events } = meter(0);
    m.update(0);
    m.update(5); // clamped to 0
    m.finish();
    assert.deepEqual(events, [{ event: 'progress', oid: OID, bytesSoFar: 0, bytesSinceLast: 0 }]);
  });

  it('finish() cancels the pending timer and the last event is the size', async () => {
    const { m, events, clock } = meter(100);
    m.update(10);
    clock.t += 1;
    m.update(20); // pending on the timer
    m.finish();
    await sleep(INTERVAL * 3);
    assert.deepEqual(
      events.map((e) => e.bytesSoFar),
      [10, 100],
    );
  });

  it('nothing is sent after stop(): neither the pending timer nor later updates', async () => {
    const { m, events, clock } = meter(100);
    m.update(10);
    clock.t += 1;
    m.update(20);
    m.stop();
    await sleep(INTERVAL * 3);
    assert.equal(events.length, 1, 'the pending timer fired after stop()');
    // A stream abandoned by a failed attempt may still report positions after the object's `complete`
    // (docs/protocol.md "Progress" rule 2: nothing follows `complete`).
    clock.t += INTERVAL * 10;
    m.update(50);
    await sleep(INTERVAL * 3);
    assert.equal(events.length, 1, 'update() after stop() still emitted progress');
  });

  it('updates beyond size are clamped', () => {
    const { m, events } = meter(100);
    m.update(1_000);
    assert.deepEqual(events, [{ event: 'progress', oid: OID, bytesSoFar: 100, bytesSinceLast: 100 }]);
    m.update(2_000);
    m.finish();
    assert.equal(events.length, 1);
    assert.equal(m.bytesReported, 100);
  });

  it('a resume offset is reported in one event', () => {
    const { m, events } = meter(1 << 20);
    m.update(300_000);
    assert.deepEqual(events, [{ event: 'progress', oid: OID, bytesSoFar: 300_000, bytesSinceLast: 300_000 }]);
    m.stop();
  });
});
