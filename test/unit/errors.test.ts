import assert from 'node:assert/strict';
import {
  authError,
  BridgeError,
  badRequest,
  configError,
  corrupt,
  type ErrorKind,
  notFound,
  rateLimited,
  toBridgeError,
  transient,
  wireCode,
} from '../../src/errors.js';

const errno = (code: string, message = code) => Object.assign(new Error(message), { code });

describe('errors', () => {
  it('wire codes follow docs/protocol.md "Errors and exit codes"', () => {
    const want: Record<ErrorKind, number> = {
      BadRequest: 400,
      Auth: 401,
      Forbidden: 403,
      NotFound: 404,
      Conflict: 409,
      Quota: 507,
      Corrupt: 422,
      RateLimited: 429,
      Transient: 503,
      Config: 400,
      Unexpected: 500,
    };
    assert.deepEqual(wireCode, want);
    for (const [kind, code] of Object.entries(want)) {
      assert.equal(new BridgeError(kind as ErrorKind, false, 'x').code, code);
    }
  });

  it('constructors set kind, retryability and Retry-After', () => {
    assert.equal(badRequest('x').kind, 'BadRequest');
    assert.equal(notFound('x').code, 404);
    assert.equal(corrupt('x').code, 422);
    assert.equal(configError('x').kind, 'Config');
    assert.equal(transient('x').retryable, true);
    assert.equal(notFound('x').retryable, false);
    const r = rateLimited('slow', 2_000);
    assert.equal(r.retryable, true);
    assert.equal(r.retryAfterMs, 2_000);
    assert.equal(authError('x').retryable, false);
    assert.equal(authError('x', true).retryable, true);
    assert.equal(transient('x').persistent, false);
    assert.equal(badRequest('m').name, 'BridgeError(BadRequest)');
    assert.ok(badRequest('m') instanceof Error);
  });

  describe('toBridgeError', () => {
    it('passes a BridgeError through unchanged', () => {
      const e = corrupt('x');
      assert.equal(toBridgeError(e, 'ctx'), e);
    });

    for (const code of ['ECONNRESET', 'ETIMEDOUT', 'ECONNREFUSED', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET']) {
      it(`${code} → retryable Transient (503)`, () => {
        const src = errno(code, `read ${code}`);
        const e = toBridgeError(src, 'GET https://x');
        assert.equal(e.kind, 'Transient');
        assert.equal(e.retryable, true);
        assert.equal(e.code, 503);
        assert.equal(e.message, `GET https://x: read ${code}`);
        assert.equal(e.cause, src);
      });
    }

    it('undici timeouts and socket errors → Transient', () => {
      for (const code of ['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']) {
        assert.equal(toBridgeError(errno(code)).retryable, true, code);
      }
      // undici's SocketError: name SocketError, code UND_ERR_SOCKET, message 'other side closed'.
      const sock = Object.assign(new Error('other side closed'), { name: 'SocketError', code: 'UND_ERR_SOCKET' });
      assert.equal(toBridgeError(sock).kind, 'Transient');
    });

    it("fetch's TypeError with a network cause → Transient", () => {
      const viaCause = new TypeError('fetch failed', { cause: errno('ECONNRESET') });
      assert.equal(toBridgeError(viaCause).kind, 'Transient');
      const terminated = new TypeError('terminated');
      assert.equal(toBridgeError(terminated).retryable, true);
    });

    it('ENOSPC / EDQUOT → Quota (507), not retryable', () => {
      for (const code of ['ENOSPC', 'EDQUOT']) {
        const e = toBridgeError(errno(code));
        assert.equal(e.kind, 'Quota');
        assert.equal(e.code, 507);
        assert.equal(e.retryable, false);
      }
    });

    it('EACCES / EPERM / EROFS → Forbidden (403)', () => {
      for (const code of ['EACCES', 'EPERM', 'EROFS']) {
        const e = toBridgeError(errno(code));
        assert.equal(e.kind, 'Forbidden');
        assert.equal(e.code, 403);
      }
    });

    it('anything else → Unexpected (500), not retryable; non-Errors too', () => {
      const e = toBridgeError(new Error('bug'));
      assert.equal(e.kind, 'Unexpected');
      assert.equal(e.retryable, false);
      assert.equal(e.code, 500);
      assert.equal(toBridgeError('a string').message, 'a string');
      assert.equal(toBridgeError(undefined).kind, 'Unexpected');
      assert.equal(toBridgeError(null, 'ctx').message, 'ctx: null');
      assert.equal(toBridgeError(errno('ENOENT')).kind, 'Unexpected');
    });
  });
});
