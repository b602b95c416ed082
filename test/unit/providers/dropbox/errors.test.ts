/**
 * Dropbox error mapping and the retry decisions it drives. The HTTP layer is undici's own `request`, which nock
 * cannot see (it hooks node:http and global fetch), so error paths are scripted with undici's MockAgent.
 */

import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { MockAgent } from 'undici';
import { rangeOpener } from '../../../../src/bridge/read-range.js';
import { withRetry } from '../../../../src/bridge/retry.js';
import type { BridgeError } from '../../../../src/errors.js';
import { fillToBuffer } from '../../../../src/http/fill-body.js';
import { useDispatcher } from '../../../../src/http/index.js';
import { classify, type DropboxError } from '../../../../src/providers/dropbox/errors.js';
import { DropboxProvider } from '../../../../src/providers/dropbox/provider.js';

const API = 'https://api.dropboxapi.com';
const CONTENT = 'https://content.dropboxapi.com';
const OID = 'ab'.repeat(32);
const json = { 'content-type': 'application/json' };

describe('providers/dropbox/errors: classify', () => {
  const c = (status: number, body: unknown, retryAfter?: string) =>
    classify(status, typeof body === 'string' ? body : JSON.stringify(body), retryAfter, 'test');
  const cases: [string, BridgeError, string, boolean, number][] = [
    [
      'append incorrect_offset',
      c(409, { error_summary: 'incorrect_offset/..', error: { '.tag': 'incorrect_offset', correct_offset: 4194304 } }),
      'Conflict',
      true,
      409,
    ],
    [
      'path not_found',
      c(409, { error_summary: 'path/not_found/..', error: { '.tag': 'path', path: { '.tag': 'not_found' } } }),
      'NotFound',
      false,
      404,
    ],
    ['session lookup not_found', c(409, { error_summary: 'lookup_failed/not_found/..' }), 'NotFound', false, 404],
    ['closed session', c(409, { error_summary: 'closed/..' }), 'NotFound', false, 404],
    ['conflict', c(409, { error_summary: 'path/conflict/file/..' }), 'Conflict', false, 409],
    ['insufficient_space', c(409, { error_summary: 'path/insufficient_space/..' }), 'Quota', false, 507],
    ['no_write_permission', c(409, { error_summary: 'path/no_write_permission/..' }), 'Forbidden', false, 403],
    [
      'too_many_write_operations 409',
      c(409, { error_summary: 'too_many_write_operations/..' }),
      'RateLimited',
      true,
      429,
    ],
    ['content_hash_mismatch', c(409, { error_summary: 'content_hash_mismatch/..' }), 'Corrupt', false, 422],
    [
      'expired token',
      c(401, { error_summary: 'expired_access_token/..', error: { '.tag': 'expired_access_token' } }),
      'Auth',
      true,
      401,
    ],
    ['invalid token', c(401, { error_summary: 'invalid_access_token/..' }), 'Auth', false, 401],
    ['missing scope', c(401, { error_summary: 'missing_scope/..' }), 'Auth', false, 401],
    ['429 plain text', c(429, 'too_many_requests', '3'), 'RateLimited', true, 429],
    ['500', c(500, ''), 'Transient', true, 503],
    ['503 with Retry-After', c(503, '', '7'), 'Transient', true, 503],
    ['400 plain text', c(400, 'Error in call to API function "files/upload": bad arg'), 'BadRequest', false, 400],
  ];
  for (const [name, e, kind, retryable, code] of cases) {
    it(`${name} → ${kind}${retryable ? ' (retryable)' : ''}, wire code ${code}`, () => {
      assert.equal(e.kind, kind);
      assert.equal(e.retryable, retryable);
      assert.equal(e.code, code);
      assert.match(e.message, /^\[dropbox\] test: /);
    });
  }
  it('reads correct_offset from append and from finish (nested under lookup_failed)', () => {
    const a = c(409, {
      error_summary: 'incorrect_offset/..',
      error: { '.tag': 'incorrect_offset', correct_offset: 8 },
    });
    const f = c(409, {
      error_summary: 'lookup_failed/incorrect_offset/..',
      error: { '.tag': 'lookup_failed', lookup_failed: { '.tag': 'incorrect_offset', correct_offset: 12 } },
    });
    assert.equal((a as DropboxError).correctOffset, 8);
    assert.equal((f as DropboxError).correctOffset, 12);
  });
  it('takes the wait from Retry-After, else from the body retry_after', () => {
    assert.equal(c(429, 'x', '3').retryAfterMs, 3000);
    const body = {
      error_summary: 'too_many_write_operations/..',
      error: { reason: { '.tag': 'too_many_write_operations' }, retry_after: 2 },
    };
    assert.equal(c(429, body).retryAfterMs, 2000);
  });
});

describe('providers/dropbox over scripted HTTP (undici MockAgent)', () => {
  let agent: MockAgent;
  let tokens: boolean[];
  beforeEach(() => {
    agent = new MockAgent();
    agent.disableNetConnect();
    useDispatcher(agent);
    tokens = [];
    // the account's root, read once before the first files/* call (not a team space: no Dropbox-API-Path-Root)
    agent
      .get(API)
      .intercept({ path: '/2/users/get_current_account', method: 'POST' })
      .reply(200, { root_info: { '.tag': 'user', root_namespace_id: '1', home_namespace_id: '1' } }, { headers: json })
      .persist();
  });
  afterEach(async () => {
    useDispatcher(undefined);
    await agent.close();
  });
  const provider = () =>
    new DropboxProvider(
      'me',
      '/lfs/r',
      async (force) => {
        tokens.push(force);
        return force ? 'fresh-token-2' : 'old-token-1';
      },
      {},
    );
  const sleepless = { policy: { tries: 5, baseMs: 1, capMs: 2, maxWaitMs: 60_000 }, sleep: async () => {} };

  it('retries 503 then succeeds; stat maps the metadata', async () => {
    const api = agent.get(API);
    api.intercept({ path: '/2/files/get_metadata', method: 'POST' }).reply(503, '');
    api.intercept({ path: '/2/files/get_metadata', method: 'POST' }).reply(503, '');
    api
      .intercept({ path: '/2/files/get_metadata', method: 'POST' })
      .reply(200, { '.tag': 'file', name: OID, id: 'id:1', rev: '1', size: 5, content_hash: 'h' }, { headers: json });
    const waits: number[] = [];
    const st = await withRetry(() => provider().stat(OID), { ...sleepless, sleep: async (ms) => void waits.push(ms) });
    assert.deepEqual(st, { size: 5, hash: 'h' });
    assert.equal(waits.length, 2);
  });

  it('refreshes the token after expired_access_token and retries with the new one', async () => {
    const api = agent.get(API);
    api
      .intercept({ path: '/2/files/get_metadata', method: 'POST', headers: { authorization: 'Bearer old-token-1' } })
      .reply(
        401,
        { error_summary: 'expired_access_token/', error: { '.tag': 'expired_access_token' } },
        { headers: json },
      );
    api
      .intercept({ path: '/2/files/get_metadata', method: 'POST', headers: { authorization: 'Bearer fresh-token-2' } })
      .reply(
        409,
        { error_summary: 'path/not_found/..', error: { '.tag': 'path', path: { '.tag': 'not_found' } } },
        { headers: json },
      );
    const p = provider();
    assert.equal(await withRetry(() => p.stat(OID), sleepless), null);
    assert.deepEqual(tokens, [false, true]);
  });

  it('does not retry a revoked token, and names the fix', async () => {
    agent
      .get(API)
      .intercept({ path: '/2/files/get_metadata', method: 'POST' })
      .reply(401, { error_summary: 'invalid_access_token/' }, { headers: json });
    await assert.rejects(
      withRetry(() => provider().stat(OID), sleepless),
      (e: BridgeError) => {
        assert.equal(e.kind, 'Auth');
        assert.match(e.message, /log in again with lfs-bridge login dropbox/);
        return true;
      },
    );
  });

  it('queryUpload reads the offset from incorrect_offset; a gone session is NotFound', async () => {
    const content = agent.get(CONTENT);
    content
      .intercept({ path: '/2/files/upload_session/append_v2', method: 'POST' })
      .reply(
        409,
        { error_summary: 'incorrect_offset/..', error: { '.tag': 'incorrect_offset', correct_offset: 8388608 } },
        { headers: json },
      );
    content
      .intercept({ path: '/2/files/upload_session/append_v2', method: 'POST' })
      .reply(409, { error_summary: 'not_found/..', error: { '.tag': 'not_found' } }, { headers: json });
    const p = provider();
    const s = { sessionId: 'pid_upload_session:x', path: '/lfs/r/ab/ab/x', size: 1 };
    assert.equal(await p.queryUpload(s), 8388608);
    await assert.rejects(p.queryUpload(s), (e: BridgeError) => e.kind === 'NotFound');
  });

  it('a chunk answered 429 with Retry-After waits exactly that long before the retry', async () => {
    const content = agent.get(CONTENT);
    content
      .intercept({ path: '/2/files/upload_session/append_v2', method: 'POST' })
      .reply(429, 'too_many_requests', { headers: { 'retry-after': '4' } });
    content
      .intercept({ path: '/2/files/upload_session/append_v2', method: 'POST' })
      .reply(200, 'null', { headers: json });
    const waits: number[] = [];
    const p = provider();
    const s = { sessionId: 'pid_upload_session:x', path: '/lfs/r/x', size: 4 };
    const done = await withRetry(() => p.uploadChunk(s, 0, 4, Readable.from([Buffer.from('abcd')]), true), {
      ...sleepless,
      sleep: async (ms) => void waits.push(ms),
    });
    assert.deepEqual(done, { offset: 4 });
    assert.deepEqual(waits, [4000]);
  });

  it('a temporary link that expired (410) is derived afresh on the retry; 200 to a Range is read from 0', async () => {
    const api = agent.get(API);
    const link = (n: number) => ({
      metadata: { '.tag': 'file', name: OID, id: 'id:1', rev: '1', size: 10 },
      link: `https://dl.example/${n}`,
    });
    api.intercept({ path: '/2/files/get_temporary_link', method: 'POST' }).reply(200, link(1), { headers: json });
    api.intercept({ path: '/2/files/get_temporary_link', method: 'POST' }).reply(200, link(2), { headers: json });
    const dl = agent.get('https://dl.example');
    dl.intercept({ path: '/1', method: 'GET' }).reply(410, 'gone');
    dl.intercept({ path: '/2', method: 'GET' }).reply(200, '0123456789');
    const p = provider();
    const r = await withRetry(() => rangeOpener(p)(OID, 10, 4, 10), sleepless);
    assert.equal(r.start, 0, 'the server ignored the Range: the body starts at 0');
    assert.equal((await fillToBuffer(r.body)).toString(), '0123456789');
  });

  it('a 206 whose Content-Range starts elsewhere is refused, not written at the wrong offset', async () => {
    agent
      .get(API)
      .intercept({ path: '/2/files/get_temporary_link', method: 'POST' })
      .reply(200, { metadata: {}, link: 'https://dl.example/3' }, { headers: json });
    agent
      .get('https://dl.example')
      .intercept({ path: '/3', method: 'GET' })
      .reply(206, '56789', { headers: { 'content-range': 'bytes 5-9/10' } });
    await assert.rejects(rangeOpener(provider())(OID, 10, 4, 10), (e: BridgeError) => e.kind === 'Transient');
  });
});
