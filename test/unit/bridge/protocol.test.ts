import assert from 'node:assert/strict';
import { PassThrough, Writable } from 'node:stream';
import { type BadLine, MessageWriter, parseLine, wireError } from '../../../src/bridge/protocol.js';
import { BridgeError, badRequest } from '../../../src/errors.js';

const OID = 'ab'.repeat(32);
const line = (o: unknown) => JSON.stringify(o);

/** Asserts a BadLine answered with 400 and returns it. */
function bad(text: string): BadLine {
  const m = parseLine(text);
  assert.ok(m, `${text} parsed to null`);
  assert.equal(m.event, 'bad', `${text} was accepted: ${JSON.stringify(m)}`);
  const b = m as BadLine;
  assert.ok(b.error instanceof BridgeError);
  assert.equal(b.error.code, 400);
  return b;
}

describe('bridge/protocol', () => {
  describe('parseLine: bad input never throws and never passes', () => {
    it('blank lines are skipped (null)', () => {
      assert.equal(parseLine(''), null);
      assert.equal(parseLine('   \t'), null);
    });

    it('non-JSON has no oid to answer', () => {
      const b = bad('hello world');
      assert.equal(b.oid, undefined);
      assert.match(b.error.message, /not JSON/);
    });

    for (const [what, text] of [
      ['an array', '[1,2]'],
      ['a string', '"upload"'],
      ['a number', '42'],
      ['null', 'null'],
      ['true', 'true'],
    ]) {
      it(`${what} is not an object`, () => {
        const b = bad(text);
        assert.equal(b.oid, undefined);
        assert.match(b.error.message, /not a JSON object/);
      });
    }

    it('an unknown event keeps the oid so it can be answered', () => {
      const b = bad(line({ event: 'frobnicate', oid: OID, size: 1 }));
      assert.equal(b.oid, OID);
      assert.match(b.error.message, /unknown event "frobnicate"/);
    });

    it('a missing event is unknown', () => {
      assert.equal(bad(line({ oid: OID })).oid, OID);
    });

    const badOids: [string, unknown][] = [
      ['uppercase', OID.toUpperCase()],
      ['63 chars', OID.slice(1)],
      ['65 chars', `${OID}a`],
      ['path traversal', `../${OID.slice(3)}`],
      ['slash inside', `${OID.slice(0, 10)}/${OID.slice(11)}`],
      ['non-hex', 'g'.repeat(64)],
      ['empty', ''],
    ];
    for (const ev of ['upload', 'download']) {
      for (const [what, oid] of badOids) {
        it(`${ev}: ${what} oid → 400 for the oid as given`, () => {
          const b = bad(line({ event: ev, oid, size: 1, path: '/x' }));
          assert.equal(b.oid, oid);
          assert.match(b.error.message, /invalid oid/);
        });
      }
      for (const [what, oid] of [
        ['number', 12],
        ['null', null],
        ['object', { a: 1 }],
        ['missing', undefined],
      ] as [string, unknown][]) {
        it(`${ev}: ${what} oid → bad line without oid`, () => {
          const b = bad(line({ event: ev, oid, size: 1, path: '/x' }));
          assert.equal(b.oid, undefined);
        });
      }
    }

    for (const [what, size] of [
      ['negative', -1],
      ['float', 1.5],
      ['string', '10'],
      ['huge (> 2^53)', 2 ** 60],
      ['null', null],
      ['missing', undefined],
      ['boolean', true],
    ] as [string, unknown][]) {
      it(`${what} size → 400 for the oid`, () => {
        const b = bad(line({ event: 'download', oid: OID, size }));
        assert.equal(b.oid, OID);
        assert.match(b.error.message, /invalid size/);
      });
    }

    it('upload without path, or with an empty or non-string path → 400 for the oid', () => {
      for (const extra of [{}, { path: '' }, { path: 5 }, { path: null }]) {
        const b = bad(line({ event: 'upload', oid: OID, size: 3, action: null, ...extra }));
        assert.equal(b.oid, OID);
        assert.match(b.error.message, /has no path/);
      }
    });

    it('init with a bad or missing operation is bad', () => {
      for (const operation of ['pull', 'UPLOAD', '', 1, null, undefined]) {
        const b = bad(line({ event: 'init', operation, remote: 'origin', concurrent: true, concurrenttransfers: 8 }));
        assert.equal(b.oid, undefined);
        assert.match(b.error.message, /operation/);
      }
    });

    it('huge and hostile values are clipped in messages', () => {
      const b = bad(line({ event: 'upload', oid: 'x'.repeat(10_000), size: 1, path: '/p' }));
      assert.ok(b.error.message.length < 200, `message of ${b.error.message.length} chars`);
    });
  });

  describe('parseLine: valid requests', () => {
    it('init', () => {
      assert.deepEqual(
        parseLine(
          line({ event: 'init', operation: 'upload', remote: 'origin', concurrent: true, concurrenttransfers: 3 }),
        ),
        { event: 'init', operation: 'upload', remote: 'origin', concurrent: true, concurrenttransfers: 3 },
      );
      assert.deepEqual(parseLine(line({ event: 'init', operation: 'download', concurrent: false })), {
        event: 'init',
        operation: 'download',
        remote: '',
        concurrent: false,
        concurrenttransfers: 1,
      });
    });

    it('upload (with surrounding whitespace and \\r)', () => {
      assert.deepEqual(parseLine(`  ${line({ event: 'upload', oid: OID, size: 10, path: '/a/b', action: null })}\r`), {
        event: 'upload',
        oid: OID,
        size: 10,
        path: '/a/b',
      });
    });

    it('download has no path; size 0 and 2^53-1 are fine', () => {
      assert.deepEqual(parseLine(line({ event: 'download', oid: OID, size: 0, action: null })), {
        event: 'download',
        oid: OID,
        size: 0,
        path: undefined,
      });
      const m = parseLine(line({ event: 'download', oid: OID, size: Number.MAX_SAFE_INTEGER }));
      assert.equal(m?.event, 'download');
    });

    it('terminate', () => {
      assert.deepEqual(parseLine(line({ event: 'terminate' })), { event: 'terminate' });
    });
  });

  describe('wireError', () => {
    it('keeps the code and strips control characters', () => {
      const w = wireError(badRequest('line one\nline two\r\n\ttabbed\u0000nul\u001b[31mred\u007f'));
      assert.equal(w.code, 400);
      // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting they are gone
      assert.doesNotMatch(w.message, /[\u0000-\u001f\u007f]/);
      assert.match(w.message, /^line one line two tabbed nul \[31mred$/);
    });

    it('bounds the length', () => {
      const w = wireError(new BridgeError('Transient', true, 'x'.repeat(50_000)));
      assert.equal(w.code, 503);
      assert.ok(w.message.length <= 1000, `${w.message.length}`);
      assert.ok(w.message.endsWith('...'));
      assert.ok(Buffer.byteLength(JSON.stringify({ event: 'complete', oid: OID, error: w })) < 1200);
    });

    it('leaves a short message alone', () => {
      assert.deepEqual(wireError(new BridgeError('NotFound', false, 'not there')), { code: 404, message: 'not there' });
    });
  });

  describe('MessageWriter', () => {
    it('writes exactly one line per message, one write each', () => {
      const writes: string[] = [];
      const out = new Writable({
        write(chunk, _enc, cb) {
          writes.push(String(chunk));
          cb();
        },
      });
      const w = new MessageWriter(out);
      w.send({});
      w.send({ event: 'progress', oid: OID, bytesSoFar: 5, bytesSinceLast: 5 });
      w.send({ event: 'complete', oid: OID, error: { code: 404, message: 'a\nb' } });
      assert.equal(writes.length, 3);
      for (const s of writes) {
        assert.ok(s.endsWith('\n'));
        assert.equal(s.indexOf('\n'), s.length - 1, `embedded newline in ${s}`);
        assert.equal(typeof JSON.parse(s), 'object');
      }
      assert.deepEqual(JSON.parse(writes[0]), {});
    });

    it('goes quiet after an error (EPIPE) on the stream', async () => {
      const writes: string[] = [];
      const out = new PassThrough();
      out.on('data', (d) => writes.push(String(d)));
      const w = new MessageWriter(out);
      w.send({ event: 'complete', oid: OID });
      await new Promise((r) => setImmediate(r));
      assert.equal(writes.length, 1);
      const epipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
      out.emit('error', epipe);
      assert.equal(w.isClosed, true);
      assert.doesNotThrow(() => w.send({ event: 'complete', oid: OID }));
      await w.drain(); // resolves at once when closed
      await new Promise((r) => setImmediate(r));
      assert.equal(writes.length, 1);
    });

    it('drain resolves after what was written', async () => {
      const out = new PassThrough();
      const got: string[] = [];
      out.on('data', (d) => got.push(String(d)));
      const w = new MessageWriter(out);
      w.send({});
      await w.drain();
      assert.equal(got.join(''), '{}\n');
    });
  });
});
