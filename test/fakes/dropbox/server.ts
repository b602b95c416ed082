/**
 * Fake Dropbox API v2 on 127.0.0.1 for tests and benchmarks. One base URL serves every host's
 * paths: api/content `/2/<route>`, `/oauth2/authorize`, `/oauth2/token`. Temporary links live elsewhere, as at
 * Dropbox: https on another host name and port (`https://localhost:<port>/link/<token>`, the committed loopback
 * certificate in test/fixtures/tls; mocha trusts it through .mocharc.cjs), and they refuse a request that carries
 * an Authorization header.
 * Bodies stream between sockets and files under `dataDir` (tmpfs when available); nothing is buffered whole.
 *
 * Control surface, JSON in and out, no auth (also available in-process on the returned object):
 *   GET    /__fake/counters                       → CountersSnapshot (requests, bytesIn…, bytesOut…, refreshes)
 *   POST   /__fake/counters/reset
 *   GET    /__fake/faults                         → pending faults
 *   POST   /__fake/faults           Fault | Fault[]  e.g. {"route":"/2/files/download","action":{"kind":"reset","afterBytes":1000}}
 *   DELETE /__fake/faults
 *   POST   /__fake/token            {account?}    → {access, refresh}
 *   POST   /__fake/expire-tokens | /__fake/expire-sessions | /__fake/expire-links
 *   POST   /__fake/throttle         {bytesPerSec?, uploadBytesPerSec?} (0 = off) cap per response body (downloads,
 *                                    temporary links) / per upload request body (files/upload, appends)
 *   GET    /__fake/clock                          → {now}
 *   POST   /__fake/clock            {advanceMs} | {setMs}   → {now}
 *   POST   /__fake/namespace        {name}        → {namespace_id} (shared, usable by every account)
 *   GET    /__fake/account?account=NAME           → {account_id, home_namespace_id, email}
 *   POST   /__fake/authorize-as     {account}     account that /oauth2/authorize approves as
 *   GET    /__fake/files[?ns=ID]                  → [path_display…]
 *   GET    /__fake/files?path=P[&ns=ID]           → body (404 if absent)
 *   GET    /__fake/files/meta?path=P[&ns=ID]      → FileMetadata (404 if absent)
 *   PUT    /__fake/files?path=P[&ns=ID]           body streamed, stored in overwrite mode → FileMetadata
 *   DELETE /__fake/files?path=P[&ns=ID]
 *   POST   /__fake/files/corrupt    {path, byteIndex, ns?}  flips a stored byte (metadata unchanged)
 * Files given without `ns` live in the home namespace of account "default".
 * Team spaces (root namespace ≠ home: createTeamSpace, joinTeamSpace, createTeamFolder, leaveTeamSpace) and the
 * session size limit (option sessionMaxBytes) are set in process only.
 * See docs/providers.md "The fake Dropbox".
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { mkdtemp, open } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DropboxContentHasher } from '../../../src/hash/dropbox-content-hash.js';
import type { Ctx, State } from './context.js';
import { Counters, type Fault, FaultController } from './faults.js';
import { type Outcome, ROUTES, serveLink } from './files.js';
import { readSmall, receiveBody } from './io.js';
import { OAuth } from './oauth.js';
import { type Account, DEFAULT_ACCOUNT, fileMetadata, type Namespace, rootInfo, Store } from './store.js';
import { LINK_CERT, LINK_KEY } from './tls.js';
import { Args, badInput, type Json, Reply, SESSION_MAX } from './util.js';

export type { CountersSnapshot, Fault, FaultAction } from './faults.js';
export { Counters, FaultController };

export interface FakeDropboxOptions {
  /** Where stored and session bodies live (default: a fresh mkdtemp under /dev/shm, else os.tmpdir()). */
  dataDir?: string;
  /** default 'test-app-key' */
  appKey?: string;
  /** Registered redirect URIs, matched exactly (port and path included). default ['http://127.0.0.1:53682/callback'] */
  redirectUris?: string[];
  /** Test clock base in ms (default Date.now); setClock/advance shift it. */
  now?: () => number;
  /** default 14400 (Dropbox short-lived tokens: 4 h) */
  accessTokenTtlSec?: number;
  /** users/get_space_usage `allocated`, and the quota behind insufficient_space; default 2 TiB. */
  allocatedBytes?: number;
  /** Largest file an upload session takes (too_large beyond); default 350 GB, as Dropbox documents. */
  sessionMaxBytes?: number;
  /** Port on 127.0.0.1; default 0 (any free port). */
  port?: number;
}

export interface FakeFiles {
  /** Stores `data` at `path` (overwrite mode) in the default account's home namespace or namespace `ns`. */
  put(path: string, data: Buffer, ns?: string): void;
  /**
   * Moves the file at `file` into the store at `path` (overwrite mode) with `hash` as its content_hash, unread: a
   * sparse multi-GiB object costs nothing to store.
   */
  adopt(path: string, file: string, hash: string, ns?: string): void;
  get(path: string, ns?: string): Buffer | undefined;
  /** FileMetadata as files/download would report it. */
  meta(path: string, ns?: string): Json | undefined;
  /** Flips byte `byteIndex` of the stored body; metadata (size, content_hash) stays as it was. */
  corrupt(path: string, byteIndex: number, ns?: string): void;
  /** path_display of every stored file. */
  list(ns?: string): string[];
  remove(path: string, ns?: string): void;
}

export interface FakeDropbox {
  /** Base URL, e.g. http://127.0.0.1:PORT */
  url: string;
  /** Where temporary links point: https://localhost:PORT (another host and port than `url`). */
  linkBase: string;
  appKey: string;
  dataDir: string;
  issueToken(opts?: { account?: string }): { access: string; refresh: string };
  /** Every current access token now answers 401 expired_access_token. */
  expireAccessTokens(): void;
  /** Every current upload session now answers not_found. */
  expireSessions(): void;
  /** Every current temporary link now answers 410. */
  expireLinks(): void;
  faults: FaultController;
  counters: Counters;
  files: FakeFiles;
  /** A shared namespace any account can address with Dropbox-API-Path-Root; returns its namespace_id. */
  createSharedNamespace(name: string): string;
  /** Mounts a shared namespace in an account's home at `path` (each member may mount it elsewhere). */
  mountShared(account: string, path: string, nsId: string): void;
  account(name?: string): { account_id: string; home_namespace_id: string; root_namespace_id: string; email: string };
  /** A team space: a root namespace its members' home folders (and team folders) sit in; returns its id. */
  createTeamSpace(name: string): string;
  /** Makes `account` a team-space member: its home folder appears at `/<displayName>` of the team root. */
  joinTeamSpace(account: string, rootNs: string, displayName?: string): void;
  /** A team folder at `/<name>` of a team space's root, a namespace of its own; returns its id. */
  createTeamFolder(rootNs: string, name: string): string;
  /** The account leaves its team space: its root is its home again. */
  leaveTeamSpace(account: string): void;
  /** Account that /oauth2/authorize approves as (default "default"). */
  setAuthorizeAccount(name: string): void;
  /** Per-response bandwidth cap on download bodies; 0 = none. */
  setThrottle(bytesPerSec: number): void;
  /** Per-request bandwidth cap on upload bodies (files/upload, appends); 0 = none. */
  setUploadThrottle(bytesPerSec: number): void;
  setClock(ms: number): void;
  advance(ms: number): void;
  now(): number;
  close(): Promise<void>;
}

const TEXT = 'text/plain; charset=utf-8';
const RPC_TYPES = ['application/json', 'application/json; charset=utf-8', 'text/plain; charset=dropbox-cors-hack'];
const UPLOAD_TYPES = ['application/octet-stream', 'text/plain; charset=dropbox-cors-hack'];
const normType = (t: string | undefined) =>
  t
    ?.toLowerCase()
    .replace(/\s*;\s*/g, '; ')
    .trim();

/** Starts the fake on 127.0.0.1. */
export async function startFakeDropbox(opts: FakeDropboxOptions = {}): Promise<FakeDropbox> {
  const ownsDir = !opts.dataDir;
  const dataDir =
    opts.dataDir ?? (await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'fake-dropbox-')));
  for (const d of ['blobs', 'sessions', 'tmp']) mkdirSync(join(dataDir, d), { recursive: true });
  const base = opts.now ?? Date.now;
  let offset = 0;
  const clock = () => base() + offset;
  const appKey = opts.appKey ?? 'test-app-key';
  const counters = new Counters();
  const store = new Store(dataDir, clock, opts.allocatedBytes ?? 2 ** 41);
  store.account(DEFAULT_ACCOUNT);
  const oauth = new OAuth({
    appKey,
    redirectUris: opts.redirectUris ?? ['http://127.0.0.1:53682/callback'],
    accessTokenTtlSec: opts.accessTokenTtlSec ?? 14400,
    clock,
    store,
    counters,
  });
  const s: State = {
    store,
    oauth,
    faults: new FaultController(),
    counters,
    sessions: new Map(),
    links: new Map(),
    clock,
    throttle: 0,
    uploadThrottle: 0,
    sessionMax: opts.sessionMaxBytes ?? SESSION_MAX,
    linkBase: '',
    closing: false,
  };

  /** Namespace for the in-process and /__fake/ file helpers. */
  const nsOf = (id?: string): { a: Account; ns: Namespace } => {
    const a = store.account(DEFAULT_ACCOUNT);
    const ns = id === undefined ? store.home(a) : store.namespaces.get(id);
    if (!ns) throw new Error(`fake dropbox: no namespace ${id}`);
    return { a, ns };
  };
  const entryOf = (path: string, id?: string) => {
    const { a, ns } = nsOf(id);
    const r = store.resolve(a, ns, path);
    return 'error' in r ? undefined : r.ns.files.get(r.key);
  };
  const files: FakeFiles = {
    put: (path, data, id) => {
      const { a, ns } = nsOf(id);
      store.putBuffer(a, ns, path, data);
    },
    adopt: (path, file, hash, id) => {
      const { a, ns } = nsOf(id);
      const r = store.resolve(a, ns, path);
      if ('error' in r) throw new Error(`fake dropbox: bad path ${path}`);
      const blob = { file, size: statSync(file).size, hash };
      const res = store.commit(a, r.ns, r.key, r.display, blob, {
        mode: 'overwrite',
        autorename: false,
        strictConflict: false,
      });
      if ('error' in res) throw new Error(`fake dropbox: cannot store ${path}: ${JSON.stringify(res.error)}`);
    },
    get: (path, id) => {
      const e = entryOf(path, id);
      return e && store.getBuffer(e);
    },
    meta: (path, id) => {
      const e = entryOf(path, id);
      return e && fileMetadata(e, false);
    },
    corrupt: (path, byteIndex, id) => {
      const e = entryOf(path, id);
      if (!e || byteIndex < 0 || byteIndex >= e.size)
        throw new Error(`fake dropbox: cannot corrupt ${path}@${byteIndex}`);
      const fd = openSync(e.blob, 'r+');
      try {
        const b = Buffer.alloc(1);
        readSync(fd, b, 0, 1, byteIndex);
        b[0] ^= 0xff;
        writeSync(fd, b, 0, 1, byteIndex);
      } finally {
        closeSync(fd);
      }
    },
    list: (id) => [...nsOf(id).ns.files.values()].map((e) => e.display).sort(),
    remove: (path, id) => {
      const e = entryOf(path, id);
      if (e) store.remove(store.namespaces.get(e.ns)!, e.key);
    },
  };

  const fake: FakeDropbox = {
    url: '',
    linkBase: '',
    appKey,
    dataDir,
    issueToken: (o) => oauth.issue(o?.account),
    expireAccessTokens: () => oauth.expireAll(),
    expireSessions: () => {
      for (const x of s.sessions.values()) x.expired = true;
    },
    expireLinks: () => {
      for (const l of s.links.values()) l.expired = true;
    },
    faults: s.faults,
    counters,
    files,
    createSharedNamespace: (name) => store.createSharedNamespace(name),
    mountShared: (account, path, nsId) => {
      store.account(account);
      store.mount(account, path, nsId);
    },
    account: (name) => {
      const a = store.account(name);
      return { account_id: a.accountId, home_namespace_id: a.homeNs, root_namespace_id: a.rootNs, email: a.email };
    },
    createTeamSpace: (name) => store.createTeamSpace(name),
    joinTeamSpace: (account, rootNs, displayName) =>
      store.joinTeamSpace(account, rootNs, displayName ?? `${account} Tester`),
    createTeamFolder: (rootNs, name) => store.createTeamFolder(rootNs, name),
    leaveTeamSpace: (account) => store.leaveTeamSpace(account),
    setAuthorizeAccount: (name) => {
      oauth.authorizeAs = name;
    },
    setThrottle: (bps) => {
      s.throttle = Math.max(0, bps || 0);
    },
    setUploadThrottle: (bps) => {
      s.uploadThrottle = Math.max(0, bps || 0);
    },
    setClock: (ms) => {
      offset = ms - base();
    },
    advance: (ms) => {
      offset += ms;
    },
    now: clock,
    close: async () => {},
  };

  const server = createServer((req, res) => {
    void handle(s, fake, req, res);
  });
  server.requestTimeout = 0; // multi-GiB bodies under a throttle outlast Node's 300 s default
  server.keepAliveTimeout = 5000;
  await listen(server, opts.port ?? 0, '127.0.0.1');
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Temporary links: another host name and port, over https, as Dropbox's links are.
  const tls = { key: readFileSync(LINK_KEY), cert: readFileSync(LINK_CERT) };
  const linkServers = [createHttpsServer(tls, (req, res) => void handleLink(s, req, res))];
  linkServers[0]!.requestTimeout = 0;
  await listen(linkServers[0]!, 0, '127.0.0.1');
  const linkPort = (linkServers[0]!.address() as AddressInfo).port;
  // `localhost` may resolve to ::1 first: serve there too where the machine has IPv6 loopback.
  const v6 = createHttpsServer(tls, (req, res) => void handleLink(s, req, res));
  v6.requestTimeout = 0;
  if (
    await listen(v6, linkPort, '::1').then(
      () => true,
      () => false,
    )
  )
    linkServers.push(v6);
  s.linkBase = fake.linkBase = `https://localhost:${linkPort}`;
  fake.close = async () => {
    s.closing = true;
    await Promise.all(
      [server, ...linkServers].map(
        (x) =>
          new Promise<void>((resolve) => {
            x.closeAllConnections();
            x.close(() => resolve());
          }),
      ),
    );
    if (ownsDir) rmSync(dataDir, { recursive: true, force: true });
  };
  return fake;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

// ---------------------------------------------------------------------------------------------- dispatch

/** The temporary-link host: GET/HEAD /link/<token> only, and never with an Authorization header. */
async function handleLink(s: State, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://localhost');
  const c: Ctx = { req, res, url, routeKey: '/link/*', fn: 'link' };
  try {
    if (!url.pathname.startsWith('/link/')) {
      await drain(s, c);
      return respond(c, new Reply(404, 'Not Found', TEXT));
    }
    s.counters.request(c.routeKey);
    if (req.headers.authorization !== undefined) {
      // A pre-authorised URL: a bearer sent along would leak the account's token to the content host.
      await drain(s, c);
      return respond(c, new Reply(400, 'Bad Request: temporary links take no Authorization header', TEXT));
    }
    await link(s, c, url.pathname.slice('/link/'.length));
  } catch (e) {
    if (!(e instanceof Reply) && !s.closing) {
      process.stderr.write(`fake dropbox: link ${req.method} ${req.url}: ${(e as Error)?.stack ?? e}\n`);
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    await drain(s, c).catch(() => {});
    respond(c, e instanceof Reply ? e : new Reply(500, 'Internal Server Error', TEXT));
  }
}

async function handle(s: State, fake: FakeDropbox, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const path = url.pathname;
  const c: Ctx = { req, res, url, routeKey: path, fn: path.replace(/^\/2\//, '') };
  try {
    if (path.startsWith('/__fake/')) return await control(s, fake, c, path.slice('/__fake/'.length));
    s.counters.request(c.routeKey);
    if (path === '/oauth2/authorize') return await oauthAuthorize(s, c);
    if (path === '/oauth2/token') return await oauthToken(s, c);
    if (path.startsWith('/2/')) return await api(s, c);
    await drain(s, c);
    respond(c, new Reply(404, 'Not Found', TEXT));
  } catch (e) {
    if (!(e instanceof Reply) && !s.closing) {
      process.stderr.write(`fake dropbox: ${req.method} ${req.url}: ${(e as Error)?.stack ?? e}\n`);
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    await drain(s, c).catch(() => {});
    respond(c, e instanceof Reply ? e : new Reply(500, 'Internal Server Error', TEXT));
  }
}

/** Sends a reply, unless the fault says to drop the connection after doing the work. */
function respond(c: Ctx, r: Reply): void {
  if (c.fault?.kind === 'commit-then-drop') {
    c.req.socket.destroy();
    return;
  }
  if (c.res.headersSent || c.res.destroyed) return;
  c.res.writeHead(r.status, {
    'Content-Type': r.contentType,
    'Content-Length': Buffer.byteLength(r.body),
    ...r.headers,
  });
  c.res.end(r.body);
}

/** Reads and counts whatever is left of the request body, so the answer arrives on a clean connection. */
async function drain(s: State, c: Ctx): Promise<void> {
  if (c.req.complete || c.req.socket.destroyed || c.req.readableEnded) return;
  await receiveBody(c.req, {
    limit: 0,
    count: (n) => s.counters.received(c.routeKey, n, c.countPath, c.countSession),
  });
}

/** Takes the fault for this request (if any) and applies the kinds that act before the operation. */
async function applyFault(s: State, c: Ctx, text: string): Promise<'handled' | undefined> {
  c.fault = s.faults.take(c.routeKey, `${c.req.url ?? ''}\n${text}`);
  if (!c.fault) return undefined;
  s.counters.faults++;
  s.counters.faultsAt.push(Date.now());
  const f = c.fault;
  if (f.kind === 'delay') await sleep(f.ms);
  if (f.kind === 'status') {
    await drain(s, c);
    const headers = { ...(f.headers ?? {}) };
    let body = f.body;
    if (f.status === 429) {
      // Dropbox always sends Retry-After with 429 (docs/providers.md "Rate limits and Retry-After");
      // the body defaults to a RateLimitError JSON.
      const retry = Object.entries(headers).find(([k]) => k.toLowerCase() === 'retry-after')?.[1] ?? '1';
      headers['Retry-After'] = retry;
      body ??= JSON.stringify({
        error_summary: 'too_many_requests/..',
        error: { reason: { '.tag': 'too_many_requests' }, retry_after: Number(retry) || 1 },
      });
    }
    body ??= '';
    const type = /^\s*[{[]/.test(body) ? 'application/json' : TEXT;
    c.fault = undefined;
    respond(c, new Reply(f.status, body, type, headers));
    return 'handled';
  }
  return undefined;
}

async function oauthAuthorize(s: State, c: Ctx): Promise<void> {
  if (await applyFault(s, c, '')) return;
  if (c.fault?.kind === 'reset') return void c.req.socket.destroy();
  await drain(s, c);
  respond(c, s.oauth.authorize(c.url.searchParams));
}

async function oauthToken(s: State, c: Ctx): Promise<void> {
  const body = await readSmall(c.req, 64 * 1024, (n) => s.counters.received(c.routeKey, n));
  if (body === null)
    throw new Reply(400, JSON.stringify({ error: 'invalid_request', error_description: 'body too large' }));
  const form = new URLSearchParams(c.url.searchParams);
  const type = normType(c.req.headers['content-type']);
  if (body.length > 0 && type?.startsWith('application/x-www-form-urlencoded')) {
    for (const [k, v] of new URLSearchParams(body.toString('utf8'))) form.set(k, v);
  }
  if (await applyFault(s, c, form.toString())) return;
  if (c.fault?.kind === 'reset') return void c.req.socket.destroy();
  if (c.req.method !== 'POST') throw new Reply(405, 'Method Not Allowed', TEXT);
  const basic = /^Basic\s+(\S+)$/i.exec(c.req.headers.authorization ?? '');
  const basicUser = basic ? Buffer.from(basic[1]!, 'base64').toString('utf8').split(':')[0] : undefined;
  respond(c, s.oauth.token(form, basicUser));
}

async function link(s: State, c: Ctx, token: string): Promise<void> {
  if (await applyFault(s, c, '')) return;
  if (c.req.method !== 'GET' && c.req.method !== 'HEAD') throw new Reply(405, 'Method Not Allowed', TEXT);
  await drain(s, c);
  await serveLink(s, c, token);
}

/** /2/<route>: argument parsing by style, faults, bearer, path root, then the route. */
async function api(s: State, c: Ctx): Promise<void> {
  const spec = ROUTES[c.fn];
  if (!spec) throw new Reply(404, `Unknown API function: "${c.fn}"`, TEXT);
  const method = c.req.method ?? 'GET';
  if (method !== 'POST' && !(spec.style === 'download' && method === 'GET')) {
    throw new Reply(405, `Error in call to API function "${c.fn}": method ${method} not allowed`, TEXT);
  }
  const type = normType(c.req.headers['content-type']);
  let argText = '';
  let value: unknown = null;
  if (spec.style === 'rpc') {
    const body = await readSmall(c.req, 1024 * 1024, (n) => s.counters.received(c.routeKey, n));
    if (body === null) throw badInput(c.fn, 'request body: too large');
    if (body.length === 0 && type !== undefined && type !== '') {
      throw badInput(c.fn, 'request body: could not decode input as JSON');
    }
    if (body.length > 0) {
      if (!type || !RPC_TYPES.includes(type)) {
        throw badInput(
          c.fn,
          `Bad HTTP "Content-Type" header: ${JSON.stringify(c.req.headers['content-type'] ?? '')}.  Expecting one of ` +
            RPC_TYPES.map((t) => JSON.stringify(t)).join(', ') +
            '.',
        );
      }
      argText = body.toString('utf8');
      value = parseJson(c, argText, 'request body');
    }
  } else {
    if (spec.style === 'upload' && (!type || !UPLOAD_TYPES.includes(type))) {
      throw badInput(
        c.fn,
        `Bad HTTP "Content-Type" header: ${JSON.stringify(c.req.headers['content-type'] ?? '')}.  Expecting one of ` +
          UPLOAD_TYPES.map((t) => JSON.stringify(t)).join(', ') +
          '.',
      );
    }
    if (spec.style === 'download' && type && /^(application\/x-www-form-urlencoded|multipart\/form-data)/.test(type)) {
      throw badInput(c.fn, `Bad HTTP "Content-Type" header: "${c.req.headers['content-type']}".  Expecting no body.`);
    }
    const header = c.req.headers['dropbox-api-arg'];
    const raw = typeof header === 'string' ? header : (c.url.searchParams.get('arg') ?? undefined);
    if (raw === undefined) throw badInput(c.fn, 'Must provide HTTP header "Dropbox-API-Arg" or URL parameter "arg".');
    if (typeof header === 'string' && /[^\x20-\x7e\t]/.test(header)) {
      throw badInput(
        c.fn,
        'HTTP header "Dropbox-API-Arg": could not decode input as JSON: the header must be ASCII; escape other ' +
          'characters as \\uXXXX',
      );
    }
    argText = raw;
    value = parseJson(c, raw, typeof header === 'string' ? 'HTTP header "Dropbox-API-Arg"' : 'URL parameter "arg"');
  }
  if (spec.void) {
    if (value !== null && !(typeof value === 'object' && Object.keys(value as object).length === 0)) {
      throw badInput(c.fn, 'request body: expected null, got value');
    }
    value = {};
  } else if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw badInput(c.fn, 'request body: expected an object');
  }
  const where = spec.style === 'rpc' ? 'request body' : 'HTTP header "Dropbox-API-Arg"';
  const args = new Args(c.fn, where, value as Json);

  if (await applyFault(s, c, argText)) return;
  if (c.fault?.kind === 'reset' && spec.style === 'rpc') return void c.req.socket.destroy();

  const auth = s.oauth.check(c.fn, c.req.headers.authorization, c.url.searchParams.get('authorization'));
  c.account = auth.account;
  c.token = auth.token;
  c.root = pathRoot(s, c);

  if (spec.style === 'download') {
    const rest = await readSmall(c.req, 0, (n) => s.counters.received(c.routeKey, n));
    if (rest === null) throw badInput(c.fn, 'request body: download routes take no body');
  }
  const out: Outcome = await spec.run(s, c, args);
  if (out === 'sent') return;
  await drain(s, c);
  respond(c, new Reply(200, JSON.stringify(out.json)));
}

function parseJson(c: Ctx, text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw badInput(c.fn, `${where}: could not decode input as JSON`);
  }
}

/** Dropbox-API-Path-Root: {".tag":"home"} | {".tag":"root","root":id} | {".tag":"namespace_id","namespace_id":id}. */
function pathRoot(s: State, c: Ctx): Namespace {
  const a = c.account!;
  const header = c.req.headers['dropbox-api-path-root'];
  if (typeof header !== 'string') return s.store.home(a);
  let v: unknown;
  try {
    v = JSON.parse(header);
  } catch {
    throw badInput(c.fn, 'HTTP header "Dropbox-API-Path-Root": could not decode input as JSON');
  }
  const o = (typeof v === 'object' && v ? v : {}) as Json;
  const tag = typeof v === 'string' ? v : o['.tag'];
  const fail = (error: Json) =>
    new Reply(422, JSON.stringify({ error_summary: `${error['.tag']}/..`, error }), 'application/json');
  const root = s.store.namespaces.get(a.rootNs)!;
  if (tag === 'home') return s.store.home(a);
  if (tag === 'root') {
    if (o['root'] !== a.rootNs) throw fail({ '.tag': 'invalid_root', invalid_root: rootInfo(a) });
    return root;
  }
  if (tag === 'namespace_id') {
    const id = o['namespace_id'];
    if (typeof id !== 'string' || !s.store.canAccess(a, id, root)) throw fail({ '.tag': 'no_permission' });
    return s.store.namespaces.get(id)!;
  }
  throw badInput(c.fn, `HTTP header "Dropbox-API-Path-Root": unknown tag ${JSON.stringify(tag)}`);
}

// ---------------------------------------------------------------------------------------------- control

async function control(s: State, fake: FakeDropbox, c: Ctx, sub: string): Promise<void> {
  const method = c.req.method ?? 'GET';
  const q = c.url.searchParams;
  const ok = (v: unknown = null) => respond(c, new Reply(200, JSON.stringify(v)));
  const readJson = async (): Promise<Json> => {
    const b = await readSmall(c.req, 1024 * 1024, () => {});
    if (!b || b.length === 0) return {};
    try {
      return JSON.parse(b.toString('utf8')) as Json;
    } catch {
      throw new Reply(400, JSON.stringify({ error: 'body is not JSON' }));
    }
  };
  const need = (v: unknown, what: string): never => {
    throw new Reply(400, JSON.stringify({ error: `${what} required, got ${JSON.stringify(v)}` }));
  };
  const route = `${method} ${sub}`;
  try {
    switch (route) {
      case 'GET counters':
        return ok(s.counters.snapshot());
      case 'POST counters/reset':
        s.counters.reset();
        return ok();
      case 'GET faults':
        return ok(s.faults.list());
      case 'POST faults': {
        const b = (await readJson()) as unknown;
        for (const f of Array.isArray(b) ? b : [b]) s.faults.add(f as Fault);
        return ok();
      }
      case 'DELETE faults':
        s.faults.clear();
        return ok();
      case 'POST token': {
        const b = await readJson();
        return ok(fake.issueToken({ account: typeof b['account'] === 'string' ? b['account'] : undefined }));
      }
      case 'POST expire-tokens':
        fake.expireAccessTokens();
        return ok();
      case 'POST expire-sessions':
        fake.expireSessions();
        return ok();
      case 'POST expire-links':
        fake.expireLinks();
        return ok();
      case 'POST throttle': {
        const b = await readJson();
        const bps = b['bytesPerSec'] ?? s.throttle;
        const up = b['uploadBytesPerSec'] ?? s.uploadThrottle;
        if (typeof bps !== 'number' || bps < 0) need(bps, 'bytesPerSec ≥ 0');
        if (typeof up !== 'number' || up < 0) need(up, 'uploadBytesPerSec ≥ 0');
        fake.setThrottle(bps as number);
        fake.setUploadThrottle(up as number);
        return ok({ bytesPerSec: s.throttle, uploadBytesPerSec: s.uploadThrottle });
      }
      case 'GET clock':
        return ok({ now: s.clock() });
      case 'POST clock': {
        const b = await readJson();
        if (typeof b['setMs'] === 'number') fake.setClock(b['setMs']);
        else if (typeof b['advanceMs'] === 'number') fake.advance(b['advanceMs']);
        else need(b, 'advanceMs or setMs');
        return ok({ now: s.clock() });
      }
      case 'POST namespace': {
        const b = await readJson();
        return ok({ namespace_id: fake.createSharedNamespace(String(b['name'] ?? 'shared')) });
      }
      case 'GET account':
        return ok(fake.account(q.get('account') ?? undefined));
      case 'POST authorize-as': {
        const b = await readJson();
        if (typeof b['account'] !== 'string') need(b['account'], 'account');
        fake.setAuthorizeAccount(b['account'] as string);
        return ok();
      }
      case 'GET files': {
        const p = q.get('path');
        if (p === null) return ok(fake.files.list(q.get('ns') ?? undefined));
        return await sendStored(s, c, p, q.get('ns') ?? undefined);
      }
      case 'GET files/meta': {
        const m = fake.files.meta(q.get('path') ?? '', q.get('ns') ?? undefined);
        if (!m) throw new Reply(404, JSON.stringify({ error: 'not found' }));
        return ok(m);
      }
      case 'PUT files':
        return await putStored(s, c, q.get('path') ?? '', q.get('ns') ?? undefined);
      case 'DELETE files':
        fake.files.remove(q.get('path') ?? '', q.get('ns') ?? undefined);
        return ok();
      case 'POST files/corrupt': {
        const b = await readJson();
        if (typeof b['path'] !== 'string' || typeof b['byteIndex'] !== 'number') need(b, '{path, byteIndex}');
        fake.files.corrupt(b['path'] as string, b['byteIndex'] as number, b['ns'] as string | undefined);
        return ok();
      }
      default:
        throw new Reply(404, JSON.stringify({ error: `unknown control route ${route}` }));
    }
  } catch (e) {
    if (e instanceof Reply) throw e;
    throw new Reply(400, JSON.stringify({ error: (e as Error).message }));
  }
}

/** GET /__fake/files?path=: streams a stored body without counting it. */
async function sendStored(s: State, c: Ctx, path: string, nsId?: string): Promise<void> {
  const e = storedEntry(s, path, nsId);
  if (!e) throw new Reply(404, JSON.stringify({ error: 'not found' }));
  const fh = await open(e.blob, 'r');
  try {
    c.res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': e.size });
    for await (const chunk of fh.createReadStream({ autoClose: false })) {
      if (!c.res.write(chunk)) await new Promise((r) => c.res.once('drain', r));
    }
    c.res.end();
  } finally {
    await fh.close();
  }
}

/** PUT /__fake/files?path=: streams the body into the store (overwrite mode), hashing on the way. */
async function putStored(s: State, c: Ctx, path: string, nsId?: string): Promise<void> {
  const a = s.store.account(DEFAULT_ACCOUNT);
  const ns = nsId === undefined ? s.store.home(a) : s.store.namespaces.get(nsId);
  const r = ns && s.store.resolve(a, ns, path);
  if (!r || 'error' in r) throw new Reply(400, JSON.stringify({ error: `bad path or namespace: ${path}` }));
  const tmp = s.store.newFile('tmp');
  const hasher = new DropboxContentHasher();
  const fh = await open(tmp, 'w');
  let got: Awaited<ReturnType<typeof receiveBody>>;
  try {
    got = await receiveBody(c.req, {
      fh,
      limit: Number.POSITIVE_INFINITY,
      onData: (b) => hasher.update(b),
      count: () => {},
    });
  } finally {
    await fh.close();
  }
  if (!got.complete) return rmSync(tmp, { force: true });
  const blob = { file: tmp, size: got.bytes, hash: hasher.digest() };
  const res = s.store.commit(a, r.ns, r.key, r.display, blob, {
    mode: 'overwrite',
    autorename: false,
    strictConflict: false,
  });
  if ('error' in res || !res.adopted) rmSync(tmp, { force: true });
  if ('error' in res) throw new Reply(409, JSON.stringify({ error: res.error }));
  respond(c, new Reply(200, JSON.stringify(fileMetadata(res.entry, false))));
}

function storedEntry(s: State, path: string, nsId?: string) {
  const a = s.store.account(DEFAULT_ACCOUNT);
  const ns = nsId === undefined ? s.store.home(a) : s.store.namespaces.get(nsId);
  const r = ns && s.store.resolve(a, ns, path);
  return !r || 'error' in r ? undefined : r.ns.files.get(r.key);
}
