import assert from 'node:assert/strict';
import { withRetry } from '../../../src/bridge/retry.js';
import { BridgeError, badRequest, rateLimited, transient } from '../../../src/errors.js';
import { backoffMs, defaultPolicy, parseRetryAfter, type RetryPolicy } from '../../../src/lib/backoff.js';
import { sleep } from '../../../src/lib/sleep.js';

const policy: RetryPolicy = { tries: 4, baseMs: 100, capMs: 1_000, maxWaitMs: 5_000 };

/** A sleep that records its waits and returns at once. */
function recorder() {
  const waits: number[] = [];
  const fn = async (ms: number) => {
    waits.push(ms);
  };
  return { waits, sleep: fn };
}

/** An op that fails with each of `errors` in turn, then returns 'ok'. */
function script(...errors: unknown[]) {
  let calls = 0;
  const op = async (attempt: number) => {
    calls++;
    assert.equal(attempt, calls, 'attempt numbers count from 1');
    if (calls <= errors.length) throw errors[calls - 1];
    return 'ok';
  };
  return { op, calls: () => calls };
}

describe('bridge/retry', () => {
  describe('withRetry', () => {
    it('returns at once when the op succeeds', async () => {
      const r = recorder();
      const s = script();
      assert.equal(await withRetry(s.op, { policy, sleep: r.sleep }), 'ok');
      assert.equal(s.calls(), 1);
      assert.deepEqual(r.waits, []);
    });

    it('retries retryable BridgeErrors with backoff inside the policy bounds', async () => {
      const r = recorder();
      const s = script(transient('a'), transient('b'));
      assert.equal(await withRetry(s.op, { policy, sleep: r.sleep }), 'ok');
      assert.equal(s.calls(), 3);
      assert.equal(r.waits.length, 2);
      assert.ok(r.waits[0] >= 0 && r.waits[0] <= 100, `${r.waits[0]}`);
      assert.ok(r.waits[1] >= 0 && r.waits[1] <= 200, `${r.waits[1]}`);
    });

    it('does not retry a non-retryable BridgeError, and throws it as is', async () => {
      const r = recorder();
      const e = badRequest('no');
      const s = script(e);
      await assert.rejects(withRetry(s.op, { policy, sleep: r.sleep }), (got) => got === e);
      assert.equal(s.calls(), 1);
      assert.deepEqual(r.waits, []);
    });

    it('does not retry a plain Error', async () => {
      const r = recorder();
      const s = script(new Error('bug'));
      await assert.rejects(withRetry(s.op, { policy, sleep: r.sleep }));
      assert.equal(s.calls(), 1);
      assert.deepEqual(r.waits, []);
    });

    it('a foreign non-retryable error is rethrown unchanged (callers match their own classes)', async () => {
      // bridge/upload.ts throws its own SessionGone from inside withRetry and tests `e instanceof SessionGone`.
      class Mine extends Error {}
      const e = new Mine('session gone');
      await assert.rejects(
        withRetry(script(e).op, { policy, sleep: recorder().sleep }),
        (got) => got === e,
        'withRetry replaced the thrown error with a BridgeError wrapper',
      );
    });

    it('classifies raw network errors: ECONNRESET is retried', async () => {
      const r = recorder();
      const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
      const s = script(reset);
      assert.equal(await withRetry(s.op, { policy, sleep: r.sleep }), 'ok');
      assert.equal(s.calls(), 2);
    });

    it("honours the server's retryAfterMs over the backoff", async () => {
      const r = recorder();
      const s = script(rateLimited('slow down', 3_000), transient('x', { retryAfterMs: 0 }));
      await withRetry(s.op, { policy, sleep: r.sleep, onRetry: () => {} });
      assert.deepEqual(r.waits, [3_000, 0]);
    });

    it('caps a Retry-After at maxWaitMs', async () => {
      const r = recorder();
      await withRetry(script(rateLimited('minutes', 60 * 60_000)).op, { policy, sleep: r.sleep });
      assert.deepEqual(r.waits, [5_000]);
    });

    it('marks the error persistent after the last try', async () => {
      const r = recorder();
      const errors = Array.from({ length: 10 }, (_, i) => transient(`fail ${i}`));
      const s = script(...errors);
      await assert.rejects(withRetry(s.op, { policy, sleep: r.sleep }), (e) => {
        assert.ok(e instanceof BridgeError);
        assert.equal(e.persistent, true);
        assert.equal(e.message, 'fail 3');
        return true;
      });
      assert.equal(s.calls(), policy.tries);
      assert.equal(r.waits.length, policy.tries - 1);
      assert.equal(errors[0].persistent, false, 'earlier errors are not persistent');
    });

    it('calls onRetry before each wait with the attempt and the wait', async () => {
      const seen: [string, number, number][] = [];
      await withRetry(script(rateLimited('a', 10), rateLimited('b', 20)).op, {
        policy,
        sleep: recorder().sleep,
        onRetry: (e, attempt, wait) => {
          seen.push([e.message, attempt, wait]);
        },
      });
      assert.deepEqual(seen, [
        ['a', 1, 10],
        ['b', 2, 20],
      ]);
    });

    it('stops when the signal is already aborted', async () => {
      const ac = new AbortController();
      ac.abort();
      const r = recorder();
      const s = script(transient('a'));
      await assert.rejects(withRetry(s.op, { policy, sleep: r.sleep, signal: ac.signal }));
      assert.equal(s.calls(), 1);
      assert.deepEqual(r.waits, []);
    });

    it('an abort during the wait ends it at once, without another try', async function () {
      // The server asks for 10 minutes; were the wait not ended by the abort, this test's own bound (30 s, not a
      // wall-clock assertion a busy machine could flip) would fail it.
      this.timeout(30_000);
      const ac = new AbortController();
      const s = script(rateLimited('a', 600_000));
      setTimeout(() => ac.abort(new Error('cancelled')), 30);
      await assert.rejects(
        withRetry(s.op, { policy: { ...policy, maxWaitMs: 600_000 }, signal: ac.signal }),
        /cancelled/,
      );
      assert.equal(s.calls(), 1);
    });
  });

  describe('sleep', () => {
    it('waits about the given time', async () => {
      const t0 = Date.now();
      await sleep(30);
      assert.ok(Date.now() - t0 >= 25);
    });
    it('rejects at once on an aborted signal', async () => {
      const ac = new AbortController();
      ac.abort(new Error('gone'));
      await assert.rejects(sleep(10_000, ac.signal), /gone/);
    });
  });

  describe('parseRetryAfter', () => {
    const now = Date.parse('2024-05-01T12:00:00Z');
    it('reads seconds', () => {
      assert.equal(parseRetryAfter('120', now), 120_000);
      assert.equal(parseRetryAfter(' 0 ', now), 0);
    });
    it('reads an HTTP date relative to now, never negative', () => {
      assert.equal(parseRetryAfter('Wed, 01 May 2024 12:00:30 GMT', now), 30_000);
      assert.equal(parseRetryAfter('Wed, 01 May 2024 11:00:00 GMT', now), 0);
    });
    it('absent or unreadable → undefined', () => {
      for (const v of [null, undefined, '', 'soon', 'abc123']) {
        assert.equal(parseRetryAfter(v, now), undefined, JSON.stringify(v));
      }
    });
    it('numbers that are not delay-seconds are unreadable, not "retry now"', () => {
      // RFC 9110 §10.2.3: delay-seconds is 1*DIGIT. V8's Date.parse reads "1.5" and "-1" as dates in 2001.
      for (const v of ['1.5', '-1', '1 2']) {
        assert.equal(parseRetryAfter(v, now), undefined, JSON.stringify(v));
      }
    });
  });

  describe('backoffMs', () => {
    it('is full jitter in [0, min(cap, base·2^(n-1))]', () => {
      assert.equal(
        backoffMs(1, policy, () => 0),
        0,
      );
      assert.equal(
        backoffMs(1, policy, () => 0.999999),
        100,
      );
      assert.equal(
        backoffMs(3, policy, () => 0.999999),
        400,
      );
      assert.equal(
        backoffMs(30, policy, () => 0.999999),
        1_000,
      );
      for (let n = 1; n < 40; n++) {
        const b = backoffMs(n);
        assert.ok(b >= 0 && b <= defaultPolicy.capMs && Number.isInteger(b), `${n}: ${b}`);
      }
    });
  });
});
