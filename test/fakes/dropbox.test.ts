import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { dropboxContentHash } from '../../src/hash/dropbox-content-hash.js';
import { type FakeDropbox, startFakeDropbox } from './dropbox/server.js';

const MiB = 1024 * 1024;
const REDIRECT = 'http://127.0.0.1:53682/callback';
type J = Record<string, unknown>;

/** Header JSON must be ASCII: escape everything from U+007F. */
const headerJson = (v: unknown) =>
  JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
const b64url = (b: Buffer) => b.toString('base64url');

describe('fake Dropbox API v2', function () {
  this.timeout(20_000);
  let fake: FakeDropbox;
  let tok: string;

  const rpc = (route: string, body?: unknown, token = tok, headers: Record<string, string> = {}) =>
    fetch(`${fake.url}/2/${route}`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const content = (route: string, arg: unknown, data: Uint8Array = new Uint8Array(0), headers: J = {}) =>
    fetch(`${fake.url}/2/${route}`, {
      method: 'POST',
      headers: {
        Authorization: `Bearer ${tok}`,
        'Content-Type': 'application/octet-stream',
        'Dropbox-API-Arg': headerJson(arg),
        ...(headers as Record<string, string>),
      },
      body: data,
    });
  const download = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${fake.url}/2/files/download`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tok}`, 'Dropbox-API-Arg': headerJson({ path }), ...headers },
    });
  const json = async (r: Response, status = 200): Promise<J> => {
    const text = await r.text();
    assert.equal(r.status, status, text);
    return JSON.parse(text) as J;
  };
  const start = async (data: Uint8Array = new Uint8Array(0), arg: J = {}) =>
    (await json(await content('files/upload_session/start', arg, data))).session_id as string;
  const append = (session_id: string, offset: number, data: Uint8Array, close = false) =>
    content('files/upload_session/append_v2', { cursor: { session_id, offset }, close }, data);
  const finish = (session_id: string, offset: number, path: string, data?: Uint8Array, mode = 'add') =>
    content('files/upload_session/finish', { cursor: { session_id, offset }, commit: { path, mode } }, data);
  const upload = (path: string, data: Uint8Array, extra: J = {}) =>
    content('files/upload', { path, mode: 'add', autorename: false, mute: true, ...extra }, data);
  const control = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${fake.url}/__fake/${path}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    assert.equal(r.status, 200, text);
    return JSON.parse(text) as unknown;
  };

  before(async () => {
    fake = await startFakeDropbox();
  });
  after(() => fake.close());
  beforeEach(() => {
    tok = fake.issueToken().access; // tests move the clock by hours and days
    fake.faults.clear();
    fake.counters.reset();
    fake.setThrottle(0);
  });

  describe('OAuth (PKCE)', () => {
    const verifier = b64url(randomBytes(48));
    const challenge = b64url(createHash('sha256').update(verifier).digest());
    const authorize = (params: Record<string, string>) =>
      fetch(
        `${fake.url}/oauth2/authorize?` +
          new URLSearchParams({
            client_id: fake.appKey,
            response_type: 'code',
            token_access_type: 'offline',
            code_challenge: challenge,
            code_challenge_method: 'S256',
            state: 'xyz',
            ...params,
          }),
        { redirect: 'manual' },
      );
    const token = (params: Record<string, string>) =>
      fetch(`${fake.url}/oauth2/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(params),
      });
    const codeVia = async (redirect_uri: string) => {
      const r = await authorize({ redirect_uri });
      assert.equal(r.status, 302);
      const loc = new URL(r.headers.get('location')!);
      assert.equal(loc.origin + loc.pathname, redirect_uri);
      assert.equal(loc.searchParams.get('state'), 'xyz');
      return loc.searchParams.get('code')!;
    };

    it('302s to the exact redirect URI; code + verifier give tokens; the code is single-use', async () => {
      const code = await codeVia(REDIRECT);
      const grant = { grant_type: 'authorization_code', code, client_id: fake.appKey, redirect_uri: REDIRECT };
      const bad = await json(await token({ ...grant, code_verifier: b64url(randomBytes(48)) }), 400);
      assert.deepEqual(bad, { error: 'invalid_grant', error_description: 'invalid code verifier' });
      const t = await json(await token({ ...grant, code_verifier: verifier }));
      assert.equal(t.token_type, 'bearer');
      assert.equal(t.expires_in, 14400);
      assert.equal(typeof t.refresh_token, 'string');
      assert.equal(t.account_id, fake.account().account_id);
      assert.ok(typeof t.scope === 'string' && typeof t.uid === 'string');
      const me = await json(await rpc('users/get_current_account', undefined, t.access_token as string));
      assert.equal(me.email, 'default@example.com');
      assert.equal((await json(await token({ ...grant, code_verifier: verifier }), 400)).error, 'invalid_grant');

      const r = await json(
        await token({ grant_type: 'refresh_token', refresh_token: t.refresh_token as string, client_id: fake.appKey }),
      );
      assert.deepEqual(Object.keys(r).sort(), ['access_token', 'expires_in', 'token_type']);
      assert.equal(fake.counters.refreshes, 1);
      await json(await rpc('users/get_space_usage', undefined, r.access_token as string));
    });

    it('matches redirect_uri exactly (port, path) at authorize and at token', async () => {
      for (const uri of [
        'http://127.0.0.1:53683/callback',
        'http://127.0.0.1:53682/callback/',
        'http://localhost:53682/callback',
      ]) {
        const r = await authorize({ redirect_uri: uri });
        assert.equal(r.status, 400, uri);
        assert.match(await r.text(), /redirect_uri/);
      }
      const code = await codeVia(REDIRECT);
      const base = { grant_type: 'authorization_code', code, client_id: fake.appKey, code_verifier: verifier };
      assert.equal((await json(await token(base), 400)).error_description, 'redirect_uri mismatch');
      assert.equal((await json(await token({ ...base, redirect_uri: REDIRECT + '/' }), 400)).error, 'invalid_grant');
    });

    it('without redirect_uri shows the code on a page; the token call then takes no redirect_uri (query form ok)', async () => {
      const r = await authorize({});
      assert.equal(r.status, 200);
      const code = /<code id="auth-code">([^<]+)<\/code>/.exec(await r.text())![1]!;
      const q = new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        client_id: fake.appKey,
        code_verifier: verifier,
      });
      const t = await json(await fetch(`${fake.url}/oauth2/token?${q}`, { method: 'POST' }));
      assert.equal(typeof t.access_token, 'string');
    });

    it('rejects an unknown client_id, a bad challenge and a bad grant', async () => {
      assert.equal((await authorize({ client_id: 'nope' })).status, 400);
      assert.equal((await authorize({ code_challenge: 'short' })).status, 400);
      assert.equal(
        (await json(await token({ grant_type: 'password', client_id: fake.appKey }), 400)).error,
        'unsupported_grant_type',
      );
      const e = await json(
        await token({ grant_type: 'refresh_token', refresh_token: 'x', client_id: fake.appKey }),
        400,
      );
      assert.equal(e.error, 'invalid_grant');
    });

    it('auth/token/revoke disables the access token, its refresh token and its siblings', async () => {
      const { access, refresh } = fake.issueToken({ account: 'revokee' });
      const sibling = await json(
        await token({ grant_type: 'refresh_token', refresh_token: refresh, client_id: fake.appKey }),
      );
      assert.equal(await (await rpc('auth/token/revoke', undefined, access)).text(), 'null');
      for (const t of [access, sibling.access_token as string]) {
        const e = await json(await rpc('users/get_current_account', undefined, t), 401);
        assert.deepEqual(e, { error_summary: 'invalid_access_token/..', error: { '.tag': 'invalid_access_token' } });
      }
      await json(await token({ grant_type: 'refresh_token', refresh_token: refresh, client_id: fake.appKey }), 400);
    });
  });

  describe('auth and RPC rules', () => {
    it('401 expired_access_token after expireAccessTokens() and after the TTL on the test clock', async () => {
      const t = fake.issueToken().access;
      await json(await rpc('users/get_current_account', undefined, t));
      fake.expireAccessTokens();
      const e = await json(await rpc('users/get_current_account', undefined, t), 401);
      assert.deepEqual(e, { error_summary: 'expired_access_token/..', error: { '.tag': 'expired_access_token' } });
      const t2 = fake.issueToken().access;
      fake.advance(14400 * 1000);
      assert.equal(
        (await json(await rpc('users/get_current_account', undefined, t2), 401)).error_summary,
        'expired_access_token/..',
      );
    });

    it('unknown token → 401 invalid_access_token; no Authorization → 400 plain text', async () => {
      assert.equal(
        (await json(await rpc('users/get_current_account', undefined, 'nope'), 401)).error_summary,
        'invalid_access_token/..',
      );
      const r = await fetch(`${fake.url}/2/users/get_current_account`, { method: 'POST' });
      assert.equal(r.status, 400);
      assert.match(await r.text(), /Authorization/);
    });

    it('RPC: empty body with a JSON type → 400; no body and no type, or "null" → ok', async () => {
      const r = await fetch(`${fake.url}/2/users/get_current_account`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/json' },
      });
      assert.equal(r.status, 400);
      assert.match(r.headers.get('content-type')!, /text\/plain/);
      await r.text();
      await json(await rpc('users/get_current_account', null));
      const usage = await json(await rpc('users/get_space_usage'));
      assert.equal((usage.allocation as J)['.tag'], 'individual');
    });
  });

  describe('files/upload and get_metadata', () => {
    it('stores with the real content_hash; add mode: identical = no-op, different = 409 path/conflict/file', async () => {
      const data = randomBytes(5 * MiB + 3);
      const m = await json(await upload('/Up/One.bin', data));
      assert.equal(m.size, data.length);
      assert.equal(m.content_hash, dropboxContentHash(data));
      assert.equal(m.path_lower, '/up/one.bin');
      assert.equal(m.path_display, '/Up/One.bin');
      assert.equal(m['.tag'], undefined);
      const again = await json(await upload('/up/ONE.bin', data));
      assert.equal(again.rev, m.rev);
      const e = await json(await upload('/up/one.bin', Buffer.from('other')), 409);
      assert.equal(e.error_summary, 'path/conflict/file/..');
      const err = e.error as J;
      assert.deepEqual(err.reason, { '.tag': 'conflict', conflict: { '.tag': 'file' } });
      // The refused data sits in a session that can be committed elsewhere.
      const moved = await json(await finish(err.upload_session_id as string, 5, '/up/other.bin'));
      assert.equal(moved.content_hash, dropboxContentHash(Buffer.from('other')));
      const over = await json(await upload('/up/one.bin', Buffer.from('v2'), { mode: 'overwrite' }));
      assert.notEqual(over.rev, m.rev);
      assert.equal(over.id, m.id);
      const md = await json(await rpc('files/get_metadata', { path: '/UP/one.BIN' }));
      assert.equal(md['.tag'], 'file');
      assert.equal(md.rev, over.rev);
      assert.equal((await json(await rpc('files/get_metadata', { path: '/up' })))['.tag'], 'folder');
      const nf = await json(await rpc('files/get_metadata', { path: '/up/none' }), 409);
      assert.deepEqual(nf, {
        error_summary: 'path/not_found/..',
        error: { '.tag': 'path', path: { '.tag': 'not_found' } },
      });
      assert.equal((await json(await upload('/up', Buffer.from('x')), 409)).error_summary, 'path/conflict/folder/..');
    });

    it('checks content_hash, Content-Type, ASCII-only Dropbox-API-Arg (\\u escapes fine) and takes ?arg=', async () => {
      const e = await json(await upload('/h/x', Buffer.from('abc'), { content_hash: 'a'.repeat(64) }), 409);
      assert.equal(e.error_summary, 'content_hash_mismatch/..');
      await json(await upload('/h/x', Buffer.from('abc'), { content_hash: dropboxContentHash(Buffer.from('abc')) }));
      const wrongType = await content('files/upload', { path: '/h/y' }, Buffer.from('a'), {
        'Content-Type': 'text/plain',
      });
      assert.equal(wrongType.status, 400);
      await wrongType.text();
      const raw = await fetch(`${fake.url}/2/files/upload`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${tok}`,
          'Content-Type': 'application/octet-stream',
          'Dropbox-API-Arg': Buffer.from('{"path":"/h/café"}', 'utf8').toString('latin1'),
        },
        body: 'x',
      });
      assert.equal(raw.status, 400);
      assert.match(await raw.text(), /ASCII/);
      const ok = await json(await upload('/h/café', Buffer.from('x')));
      assert.equal(ok.path_display, '/h/café');
      const viaQuery = await fetch(
        `${fake.url}/2/files/upload?arg=${encodeURIComponent(JSON.stringify({ path: '/h/q' }))}`,
        {
          method: 'POST',
          headers: { Authorization: `Bearer ${tok}`, 'Content-Type': 'application/octet-stream' },
          body: 'q',
        },
      );
      assert.equal((await json(viaQuery)).size, 1);
      const rel = await upload('relative', Buffer.from('x'));
      assert.equal(rel.status, 400);
      assert.match(await rel.text(), /did not match pattern/);
    });

    it('refuses a request body over 150 MiB with payload_too_large', async () => {
      const e = await json(await upload('/big/too', Buffer.alloc(150 * MiB + 1)), 409);
      assert.equal(e.error_summary, 'payload_too_large/..');
      assert.equal(fake.files.get('/big/too'), undefined);
    });
  });

  describe('upload sessions', () => {
    it('a session past the size limit (Dropbox: 350 GB) fails with too_large (append, piece, finish)', async () => {
      const shared = fake;
      fake = await startFakeDropbox({ sessionMaxBytes: 8 * MiB });
      tok = fake.issueToken().access;
      try {
        const seq = await start(Buffer.alloc(4 * MiB));
        assert.equal(
          (await json(await append(seq, 4 * MiB, Buffer.alloc(4 * MiB + 1)), 409)).error_summary,
          'too_large/..',
        );
        await json(await append(seq, 4 * MiB, Buffer.alloc(4 * MiB)));
        const fin = await json(await finish(seq, 8 * MiB, '/big/f', Buffer.alloc(1)), 409);
        assert.equal(fin.error_summary, 'lookup_failed/too_large/..');
        const con = await start(undefined, { session_type: 'concurrent' });
        assert.equal(
          (await json(await append(con, 8 * MiB, Buffer.alloc(1), true), 409)).error_summary,
          'too_large/..',
        );
      } finally {
        await fake.close();
        fake = shared;
      }
    });

    it('sequential: offsets checked (incorrect_offset.correct_offset), finish with data → metadata', async () => {
      const data = randomBytes(9 * MiB + 7);
      const id = await start(data.subarray(0, 4 * MiB));
      assert.match(id, /^pid_upload_session:/);
      assert.equal(await (await append(id, 4 * MiB, data.subarray(4 * MiB, 8 * MiB))).text(), 'null');
      const wrong = await json(await append(id, 4 * MiB, data.subarray(4 * MiB, 8 * MiB)), 409);
      assert.deepEqual(wrong, {
        error_summary: 'incorrect_offset/..',
        error: { '.tag': 'incorrect_offset', correct_offset: 8 * MiB },
      });
      // A zero-byte append at 0 is how a client asks for the offset.
      assert.equal(((await json(await append(id, 0, new Uint8Array(0)), 409)).error as J).correct_offset, 8 * MiB);
      const fw = await json(await finish(id, 7, '/s/seq.bin', data.subarray(8 * MiB)), 409);
      assert.deepEqual(fw.error, {
        '.tag': 'lookup_failed',
        lookup_failed: { '.tag': 'incorrect_offset', correct_offset: 8 * MiB },
      });
      assert.equal(fw.error_summary, 'lookup_failed/incorrect_offset/..');
      const m = await json(await finish(id, 8 * MiB, '/s/seq.bin', data.subarray(8 * MiB)));
      assert.equal(m.size, data.length);
      assert.equal(m.content_hash, dropboxContentHash(data));
      assert.ok(fake.files.get('/s/seq.bin')!.equals(data));
      const c = fake.counters.snapshot();
      assert.equal(c.bytesInBySession[id], 3 * (4 * MiB) + 2 * (MiB + 7)); // refused bodies count too
      assert.equal(c.bytesInByPath['/s/seq.bin'], c.bytesInBySession[id]);
      assert.equal(c.requests['/2/files/upload_session/append_v2'], 3);
      const gone = await json(await finish(id, data.length, '/s/seq.bin'), 409);
      assert.equal(gone.error_summary, 'lookup_failed/not_found/..');
    });

    it('closed sessions refuse appends; unknown and 7-day-old sessions are not_found; finish conflicts nest under path', async () => {
      const id = await start(Buffer.from('abc'), { close: true });
      assert.equal((await json(await append(id, 3, Buffer.from('d')), 409)).error_summary, 'closed/..');
      await json(await upload('/s/taken', Buffer.from('different')));
      const c = await json(await finish(id, 3, '/s/taken'), 409);
      assert.deepEqual(c.error, { '.tag': 'path', path: { '.tag': 'conflict', conflict: { '.tag': 'file' } } });
      assert.equal((await json(await finish(id, 3, '/s/free'))).size, 3);
      assert.equal(
        (await json(await append('pid_upload_session:nope', 0, Buffer.from('x')), 409)).error_summary,
        'not_found/..',
      );
      const old = await start(Buffer.from('x'));
      fake.advance(7 * 24 * 3600 * 1000);
      tok = fake.issueToken().access;
      assert.equal((await json(await append(old, 1, Buffer.from('y')), 409)).error_summary, 'not_found/..');
      const id2 = await start();
      fake.expireSessions();
      assert.equal((await json(await finish(id2, 0, '/s/z'), 409)).error_summary, 'lookup_failed/not_found/..');
    });

    it('concurrent: a piece sent again over data the session holds is refused with incorrect_offset', async () => {
      const data = randomBytes(12 * MiB + 10);
      const id = await start(undefined, { session_type: 'concurrent' });
      await json(await append(id, 4 * MiB, data.subarray(4 * MiB, 8 * MiB)));
      const again = await json(await append(id, 4 * MiB, randomBytes(4 * MiB)), 409);
      assert.deepEqual(again, {
        error_summary: 'incorrect_offset/..',
        error: { '.tag': 'incorrect_offset', correct_offset: 8 * MiB },
      });
      // a longer piece over it, starting before it: refused, the first free block named
      const over = await json(await append(id, 0, randomBytes(8 * MiB)), 409);
      assert.equal((over.error as J).correct_offset, 0);
      // two copies of one piece at once: the second waits for the first, then is refused
      const [a, b] = await Promise.all([
        append(id, 0, data.subarray(0, 4 * MiB)),
        append(id, 0, data.subarray(0, 4 * MiB)),
      ]);
      assert.deepEqual([a.status, b.status].sort(), [200, 409]);
      await Promise.all([a.text(), b.text()]);
      await json(await append(id, 8 * MiB, data.subarray(8 * MiB), true));
      await json(await finish(id, data.length, '/c/again'));
      assert.ok(fake.files.get('/c/again')?.equals(data), 'what was held first is what was stored');
    });

    it('concurrent: pieces in any order, ×4 MiB except the closing one; no data in start/finish', async () => {
      const data = randomBytes(8 * MiB + 1000);
      const arg = { session_type: 'concurrent' };
      const noData = await json(await content('files/upload_session/start', arg, Buffer.from('x')), 409);
      assert.equal(noData.error_summary, 'concurrent_session_data_not_allowed/..');
      const id = await start(undefined, arg);
      assert.equal(
        (await json(await append(id, 100, Buffer.alloc(10)), 409)).error_summary,
        'concurrent_session_invalid_offset/..',
      );
      const odd = await json(await append(id, 0, Buffer.alloc(MiB)), 409);
      assert.equal(odd.error_summary, 'concurrent_session_invalid_data_size/..');
      await json(await append(id, 4 * MiB, data.subarray(4 * MiB, 8 * MiB)));
      const early = await json(await finish(id, 0, '/c/x'), 409);
      assert.equal(early.error_summary, 'concurrent_session_not_closed/..');
      await json(await append(id, 8 * MiB, data.subarray(8 * MiB), true));
      assert.equal(
        (await json(await finish(id, data.length, '/c/x'), 409)).error_summary,
        'concurrent_session_missing_data/..',
      );
      const late = await json(await append(id, 0, data.subarray(0, 4 * MiB)), 409);
      assert.equal(late.error_summary, 'closed/..'); // strict: the closing piece must be the last one sent
      const id2 = await start(undefined, { session_type: { '.tag': 'concurrent' } });
      await Promise.all([
        append(id2, 4 * MiB, data.subarray(4 * MiB, 8 * MiB)).then((r) => json(r)),
        append(id2, 0, data.subarray(0, 4 * MiB)).then((r) => json(r)),
      ]);
      await json(await append(id2, 8 * MiB, data.subarray(8 * MiB), true));
      const withData = await json(await finish(id2, data.length, '/c/y', Buffer.from('z')), 409);
      assert.equal(withData.error_summary, 'concurrent_session_data_not_allowed/..');
      const m = await json(await finish(id2, data.length, '/c/y'));
      assert.equal(m.content_hash, dropboxContentHash(data));
      assert.ok(fake.files.get('/c/y')!.equals(data));
    });

    it('finish_batch_v2 commits closed sessions and reports per-entry failures', async () => {
      const a = await start(Buffer.from('aaa'), { close: true });
      const b = await start(Buffer.from('bb'));
      const r = await json(
        await rpc('files/upload_session/finish_batch_v2', {
          entries: [
            { cursor: { session_id: a, offset: 3 }, commit: { path: '/batch/a', mode: 'add' } },
            { cursor: { session_id: b, offset: 2 }, commit: { path: '/batch/b', mode: 'add' } },
          ],
        }),
      );
      const [ea, eb] = r.entries as J[];
      assert.equal(ea!['.tag'], 'success');
      assert.equal(ea!.path_lower, '/batch/a');
      assert.deepEqual(eb, {
        '.tag': 'failure',
        failure: { '.tag': 'lookup_failed', lookup_failed: { '.tag': 'not_closed' } },
      });
    });
  });

  describe('download and temporary links', () => {
    const data = randomBytes(3 * MiB + 11);
    before(() => fake.files.put('/Dl/Ünï.bin', data));

    it('200 with Dropbox-API-Result (ASCII), 206 for a-b / a- / -n, 416 past the end, GET with ?arg=', async () => {
      const full = await download('/dl/ünï.bin');
      assert.equal(full.status, 200);
      const result = full.headers.get('dropbox-api-result')!;
      assert.match(result, /^[\x20-\x7e]+$/);
      assert.equal((JSON.parse(result) as J).path_display, '/Dl/Ünï.bin');
      assert.ok(Buffer.from(await full.arrayBuffer()).equals(data));
      for (const [range, s, e] of [
        ['bytes=10-19', 10, 19],
        [`bytes=${MiB}-`, MiB, data.length - 1],
        ['bytes=-5', data.length - 5, data.length - 1],
        ['bytes=5-999999999', 5, data.length - 1],
      ] as const) {
        const r = await download('/dl/ünï.bin', { Range: range });
        assert.equal(r.status, 206, range);
        assert.equal(r.headers.get('content-range'), `bytes ${s}-${e}/${data.length}`);
        assert.ok(Buffer.from(await r.arrayBuffer()).equals(data.subarray(s, e + 1)), range);
      }
      const past = await download('/dl/ünï.bin', { Range: `bytes=${data.length}-` });
      assert.equal(past.status, 416);
      assert.equal(past.headers.get('content-range'), `bytes */${data.length}`);
      await past.arrayBuffer();
      const q = encodeURIComponent(headerJson({ path: '/dl/ünï.bin' }));
      const get = await fetch(`${fake.url}/2/files/download?arg=${q}`, {
        headers: { Authorization: `Bearer ${tok}`, Range: 'bytes=0-0' },
      });
      assert.equal(get.status, 206);
      await get.arrayBuffer();
      assert.equal((await json(await download('/dl/none'), 409)).error_summary, 'path/not_found/..');
      assert.equal((await json(await download('/dl'), 409)).error_summary, 'path/not_file/..');
      const c = fake.counters.snapshot();
      assert.equal(c.bytesOutByPath['/dl/ünï.bin'], data.length + 10 + (data.length - MiB) + 5 + (data.length - 5) + 1);
    });

    it('get_temporary_link: https on another host and port, no bearer (refused), Range works, 410 after 4 h', async () => {
      const r = await json(await rpc('files/get_temporary_link', { path: '/dl/ünï.bin' }));
      assert.equal((r.metadata as J).size, data.length);
      const link = r.link as string;
      const u = new URL(link);
      assert.equal(u.protocol, 'https:');
      assert.equal(u.hostname, 'localhost');
      assert.notEqual(u.host, new URL(fake.url).host);
      assert.equal(`${u.protocol}//${u.host}`, fake.linkBase);
      // not on the API host, and never with a bearer
      const onApi = await fetch(`${fake.url}${u.pathname}`);
      assert.equal(onApi.status, 404);
      await onApi.arrayBuffer();
      const withBearer = await fetch(link, { headers: { Authorization: `Bearer ${tok}` } });
      assert.equal(withBearer.status, 400);
      assert.match(await withBearer.text(), /take no Authorization header/);
      const part = await fetch(link, { headers: { Range: 'bytes=100-199' } });
      assert.equal(part.status, 206);
      assert.ok(Buffer.from(await part.arrayBuffer()).equals(data.subarray(100, 200)));
      fake.advance(4 * 3600 * 1000 - 1000);
      const still = await fetch(link);
      assert.equal(still.status, 200);
      await still.arrayBuffer();
      fake.advance(1000);
      const gone = await fetch(link);
      assert.equal(gone.status, 410);
      await gone.text();
      assert.equal(fake.counters.requests['/link/*'], 4);
    });

    it('throttle caps the download rate', async () => {
      fake.setThrottle(1024 * 1024);
      const t0 = performance.now();
      const r = await download('/dl/ünï.bin', { Range: 'bytes=0-524287' });
      assert.equal((await r.arrayBuffer()).byteLength, 512 * 1024);
      const ms = performance.now() - t0;
      assert.ok(ms >= 400, `512 KiB at 1 MiB/s took only ${ms} ms`); // a floor only: load only slows it
    });
  });

  describe('faults', () => {
    before(() => fake.files.put('/f/file.bin', Buffer.alloc(300_000, 7)));

    it('status: 429 JSON + Retry-After, 429 plain text, 503 for the next N matching requests', async () => {
      fake.faults.add({
        route: '/2/files/get_metadata',
        action: { kind: 'status', status: 429, headers: { 'Retry-After': '3' } },
      });
      const r = await rpc('files/get_metadata', { path: '/f/file.bin' });
      assert.equal(r.headers.get('retry-after'), '3');
      const e = await json(r, 429);
      assert.deepEqual(e.error, { reason: { '.tag': 'too_many_requests' }, retry_after: 3 });
      fake.faults.add({
        route: '/2/files/upload_session/finish',
        action: {
          kind: 'status',
          status: 429,
          headers: { 'Retry-After': '1' },
          body: '{"error_summary":"too_many_write_operations/..","error":{"reason":{".tag":"too_many_write_operations"},"retry_after":1}}',
        },
      });
      const id = await start(Buffer.from('x'));
      const w = await json(await finish(id, 1, '/f/busy'), 429);
      assert.equal(w.error_summary, 'too_many_write_operations/..');
      assert.equal((await json(await finish(id, 1, '/f/busy'))).size, 1);
      fake.faults.add({ route: '/2/files/*', times: 2, action: { kind: 'status', status: 503 } });
      fake.faults.add({
        route: '/2/users/get_space_usage',
        action: { kind: 'status', status: 429, body: 'too_many_requests' },
      });
      assert.equal((await rpc('files/get_metadata', { path: '/f/file.bin' })).status, 503);
      assert.equal((await download('/f/file.bin')).status, 503);
      const plain = await rpc('users/get_space_usage');
      assert.equal(plain.status, 429);
      assert.equal(await plain.text(), 'too_many_requests');
      assert.equal((await rpc('files/get_metadata', { path: '/f/file.bin' })).status, 200);
      assert.equal(fake.counters.faults, 5);
    });

    it('reset during an append: the connection dies and the session keeps nothing of it', async () => {
      const id = await start(Buffer.alloc(1000, 1));
      fake.faults.add({
        route: '/2/files/upload_session/append_v2',
        match: id,
        action: { kind: 'reset', afterBytes: 50_000 },
      });
      await assert.rejects(append(id, 1000, Buffer.alloc(4 * MiB, 2)));
      assert.ok(fake.counters.bytesInBySession[id]! >= 1000 + 50_000);
      const q = await json(await append(id, 0, new Uint8Array(0)), 409);
      assert.equal((q.error as J).correct_offset, 1000);
      await json(await append(id, 1000, Buffer.alloc(10, 2)));
      const m = await json(await finish(id, 1010, '/f/after-reset'));
      assert.equal(m.content_hash, dropboxContentHash(Buffer.concat([Buffer.alloc(1000, 1), Buffer.alloc(10, 2)])));
    });

    it('commit-then-drop: the append happens, the reply is lost', async () => {
      const id = await start(Buffer.alloc(10));
      fake.faults.add({ route: '/2/files/upload_session/append_v2', action: { kind: 'commit-then-drop' } });
      await assert.rejects(append(id, 10, Buffer.alloc(20)));
      const q = await json(await append(id, 10, Buffer.alloc(20)), 409);
      assert.equal((q.error as J).correct_offset, 30);
      fake.faults.add({ route: '/2/files/upload_session/finish', action: { kind: 'commit-then-drop' } });
      await assert.rejects(finish(id, 30, '/f/dropped'));
      assert.equal(fake.files.get('/f/dropped')!.length, 30);
    });

    it('reset during a download after N bytes; corrupt flips one byte; delay waits; match and skip select requests', async () => {
      fake.faults.add({
        route: '/2/files/download',
        match: 'file.bin',
        action: { kind: 'reset', afterBytes: 100_000 },
      });
      const r = await download('/f/file.bin');
      assert.equal(r.status, 200);
      await assert.rejects(r.arrayBuffer());
      assert.equal(fake.counters.bytesOut['/2/files/download'], 100_000);

      fake.faults.add({ route: '/2/files/download', skip: 1, action: { kind: 'corrupt', byteIndex: 5 } });
      const clean = Buffer.from(await (await download('/f/file.bin', { Range: 'bytes=10-' })).arrayBuffer());
      const bad = Buffer.from(await (await download('/f/file.bin', { Range: 'bytes=10-' })).arrayBuffer());
      assert.equal(clean[5], 7);
      assert.equal(bad[5], 7 ^ 0xff);
      assert.equal(bad.length, clean.length);

      fake.faults.add({ route: '/2/files/get_metadata', match: '/f/none', action: { kind: 'delay', ms: 300 } });
      const applied = fake.counters.faults;
      await json(await rpc('files/get_metadata', { path: '/f/file.bin' }));
      assert.equal(fake.counters.faults, applied, 'the delay matched another path');
      const t0 = performance.now();
      await json(await rpc('files/get_metadata', { path: '/f/none' }), 409);
      assert.ok(performance.now() - t0 >= 300);
      assert.equal(fake.counters.faults, applied + 1);

      fake.faults.add({ route: '/oauth2/token', action: { kind: 'status', status: 500 } });
      assert.equal((await fetch(`${fake.url}/oauth2/token`, { method: 'POST' })).status, 500);
      fake.faults.add({ route: '/link/*', action: { kind: 'reset', afterBytes: 0 } });
      const link = (await json(await rpc('files/get_temporary_link', { path: '/f/file.bin' }))).link as string;
      await assert.rejects(fetch(link).then((x) => x.arrayBuffer()));
    });
  });

  describe('namespaces (Dropbox-API-Path-Root)', () => {
    it('a shared namespace is a separate key space; bad roots → 422', async () => {
      const ns = fake.createSharedNamespace('team');
      const hdr = { 'Dropbox-API-Path-Root': JSON.stringify({ '.tag': 'namespace_id', namespace_id: ns }) };
      await json(await content('files/upload', { path: '/shared/x' }, Buffer.from('in ns'), hdr));
      await json(await rpc('files/get_metadata', { path: '/shared/x' }), 409);
      assert.equal((await json(await rpc('files/get_metadata', { path: '/shared/x' }, tok, hdr))).size, 5);
      assert.equal((await json(await rpc('files/get_metadata', { path: `ns:${ns}/shared/x` }))).size, 5);
      assert.equal(fake.files.get('/shared/x', ns)!.toString(), 'in ns');
      const home = fake.account().home_namespace_id;
      const root = { 'Dropbox-API-Path-Root': JSON.stringify({ '.tag': 'root', root: home }) };
      await json(await rpc('files/get_metadata', { path: '/shared/x' }, tok, root), 409);
      const bad = { 'Dropbox-API-Path-Root': JSON.stringify({ '.tag': 'root', root: '999' }) };
      assert.equal(
        (await json(await rpc('files/get_metadata', { path: '/x' }, tok, bad), 422)).error_summary,
        'invalid_root/..',
      );
      const other = { 'Dropbox-API-Path-Root': JSON.stringify({ '.tag': 'namespace_id', namespace_id: '999' }) };
      assert.equal(
        (await json(await rpc('files/get_metadata', { path: '/x' }, tok, other), 422)).error_summary,
        'no_permission/..',
      );
    });
    it('team space: root ≠ home; without the header paths are the home folder, with root they are the team space', async () => {
      const space = fake.createTeamSpace('Acme');
      const eng = fake.createTeamFolder(space, 'Engineering');
      fake.joinTeamSpace('tess', space, 'Tess Tester');
      const t = fake.issueToken({ account: 'tess' }).access;
      const me = await json(await rpc('users/get_current_account', undefined, t));
      assert.deepEqual(me.root_info, {
        '.tag': 'team',
        root_namespace_id: space,
        home_namespace_id: fake.account('tess').home_namespace_id,
        home_path: '/Tess Tester',
      });
      const root = { 'Dropbox-API-Path-Root': JSON.stringify({ '.tag': 'root', root: space }) };
      // without the header: the home folder, where the team folder is not
      assert.equal(
        (await json(await rpc('files/get_metadata', { path: '/Engineering' }, t), 409)).error_summary,
        'path/not_found/..',
      );
      assert.equal(
        (await json(await rpc('files/get_metadata', { path: `ns:${eng}` }, t), 409)).error_summary,
        'path/not_found/..',
      );
      // with it: the team space, the team folder a namespace of its own, the home folder at home_path
      const folder = await json(await rpc('files/get_metadata', { path: '/Engineering' }, t, root));
      assert.equal(folder.shared_folder_id, eng);
      const up = (path: string, data: string, h: Record<string, string> = root) =>
        fetch(`${fake.url}/2/files/upload`, {
          method: 'POST',
          headers: {
            Authorization: `Bearer ${t}`,
            'Content-Type': 'application/octet-stream',
            'Dropbox-API-Arg': headerJson({ path, mode: 'add' }),
            ...h,
          },
          body: Buffer.from(data),
        }).then((r) => json(r));
      await up('/Engineering/lfs/a', 'team');
      await up('/Tess Tester/mine', 'home');
      await up('/plain', 'home too', {});
      assert.equal(fake.files.get('/lfs/a', eng)?.toString(), 'team');
      const home = fake.account('tess').home_namespace_id;
      assert.equal(fake.files.get('/mine', home)?.toString(), 'home');
      assert.equal(fake.files.get('/plain', home)?.toString(), 'home too');
      assert.equal((await json(await rpc('files/get_metadata', { path: `ns:${eng}/lfs/a` }, t, root))).size, 4);
      // a root that is not the account's: 422 invalid_root naming the current one
      const stale = { 'Dropbox-API-Path-Root': JSON.stringify({ '.tag': 'root', root: home }) };
      const e = await json(await rpc('files/get_metadata', { path: '/x' }, t, stale), 422);
      assert.equal(((e.error as J).invalid_root as J).root_namespace_id, space);
    });
  });

  describe('control surface', () => {
    it('/__fake/ routes: token, faults, counters, clock, files', async () => {
      const t = (await control('POST', 'token', { account: 'ctl' })) as J;
      assert.equal(
        (await json(await rpc('users/get_current_account', undefined, t.access as string))).email,
        'ctl@example.com',
      );
      await control('POST', 'faults', { route: '/2/users/get_space_usage', action: { kind: 'status', status: 503 } });
      assert.equal(((await control('GET', 'faults')) as unknown[]).length, 1);
      await control('DELETE', 'faults');
      assert.equal((await rpc('users/get_space_usage')).status, 200);
      const counters = (await control('GET', 'counters')) as J;
      assert.equal((counters.requests as J)['/2/users/get_space_usage'], 1);
      await control('POST', 'counters/reset');
      assert.deepEqual(((await control('GET', 'counters')) as J).requests, {});
      const before = ((await control('GET', 'clock')) as J).now as number;
      const after = ((await control('POST', 'clock', { advanceMs: 5000 })) as J).now as number;
      assert.ok(after - before >= 5000);
      const put = await fetch(`${fake.url}/__fake/files?path=/ctl/seed.bin`, {
        method: 'PUT',
        body: Buffer.from('seed'),
      });
      assert.equal(((await put.json()) as J).content_hash, dropboxContentHash(Buffer.from('seed')));
      assert.equal(await (await fetch(`${fake.url}/__fake/files?path=/ctl/seed.bin`)).text(), 'seed');
      assert.ok(((await control('GET', 'files')) as string[]).includes('/ctl/seed.bin'));
      await control('POST', 'files/corrupt', { path: '/ctl/seed.bin', byteIndex: 0 });
      assert.equal(fake.files.get('/ctl/seed.bin')![0], 's'.charCodeAt(0) ^ 0xff);
      await control('DELETE', 'files?path=/ctl/seed.bin');
      assert.equal(fake.files.get('/ctl/seed.bin'), undefined);
      await control('POST', 'expire-tokens');
      assert.equal((await rpc('users/get_space_usage', undefined, t.access as string)).status, 401);
    });

    it('main.ts prints {url, token} and stops on SIGTERM', async () => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/fakes/dropbox/main.ts'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      try {
        const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
        const { url, token } = JSON.parse(line) as { url: string; token: string };
        const r = await fetch(`${url}/2/users/get_current_account`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}` },
        });
        assert.equal(r.status, 200);
        await r.text();
        child.kill('SIGTERM');
        const [code] = (await once(child, 'exit')) as [number];
        assert.equal(code, 0);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    });
  });
});
