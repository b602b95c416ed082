/**
 * The one HTTP layer: undici's `request` (streams Node bodies without retaining them,
 * unlike Node 20's fetch with redirects — undici issue 4058), HTTPS_PROXY/NO_PROXY through EnvHttpProxyAgent
 * (Node 20 ignores them by itself), stall timeouts, a User-Agent, and the LFS_BRIDGE_<P>_ENDPOINT override.
 * Status-code classification stays with each provider's errors.ts.
 * See docs/architecture.md "Modules".
 */
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { toBridgeError } from '../errors.js';
import { DirectUnsupported, directGet } from './direct-get.js';
import { type FillBody, readableFill } from './fill-body.js';
import { Agent, envHttpProxyAgent, request } from './undici.js';

export const USER_AGENT = 'lfs-bridge/0.1 (+git-lfs custom transfer agent)';

/** No byte for this long on a connection (either way) counts as a stall: the request fails and is retried. */
export const STALL_MS = 60_000;

let shared: Dispatcher | undefined;

/** Proxy-aware when HTTPS_PROXY/HTTP_PROXY is set (NO_PROXY honoured), else a plain keep-alive agent. */
export function dispatcher(env: NodeJS.ProcessEnv = process.env): Dispatcher {
  if (shared) return shared;
  const proxied = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'].some((k) => env[k]);
  const opts = { headersTimeout: STALL_MS, bodyTimeout: STALL_MS, connections: 16 };
  shared = proxied
    ? new (envHttpProxyAgent())({
        ...opts,
        httpProxy: env.HTTP_PROXY ?? env.http_proxy,
        httpsProxy: env.HTTPS_PROXY ?? env.https_proxy ?? env.HTTP_PROXY ?? env.http_proxy,
        noProxy: env.NO_PROXY ?? env.no_proxy,
      })
    : new Agent(opts);
  return shared;
}

/** Tests: route every request through `d` (e.g. undici's MockAgent for error-path unit tests). */
export function useDispatcher(d: Dispatcher | undefined): void {
  shared = d;
}

/** Tests switch environments between cases. */
export async function resetDispatcher(): Promise<void> {
  const d = shared;
  shared = undefined;
  await d?.close().catch(() => {});
}

export type Body = Readable | Buffer | string | null;

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: Body;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

/** One request; network failures become transient BridgeErrors. Never follows redirects. */
export async function http(req: HttpRequest): Promise<HttpResponse> {
  try {
    const res = await request(req.url, {
      method: req.method as Dispatcher.HttpMethod,
      headers: { 'user-agent': USER_AGENT, ...req.headers },
      body: req.body ?? undefined,
      signal: req.signal,
      dispatcher: dispatcher(req.env),
    });
    return { status: res.statusCode, headers: res.headers, body: res.body };
  } catch (e) {
    throw toBridgeError(e, `${req.method} ${redactUrl(req.url)}`);
  }
}

/** Ranges at least this long go over a direct connection (direct-get.ts); shorter ones reuse undici's. */
export const DIRECT_MIN = 8 * 1024 * 1024;

export interface RangeResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: FillBody;
}

/** Origins whose answer the direct path could not read: asked through undici from then on. */
const noDirect = new Set<string>();

/**
 * A GET for (part of) a large body, read into the caller's buffers. `length` is the size of the range asked:
 * from DIRECT_MIN on it goes over a direct connection where requests would go straight out anyway (the plain
 * agent: no proxy configured, no test dispatcher; LFS_BRIDGE_DIRECT_GET=0 turns it off); otherwise, or when the
 * server's answer does not suit it, through undici.
 */
export async function rangeGet(req: Omit<HttpRequest, 'method' | 'body'>, length: number): Promise<RangeResponse> {
  const env = req.env ?? process.env;
  const origin = new URL(req.url).origin;
  const straight = dispatcher(env) instanceof Agent;
  if (length >= DIRECT_MIN && straight && env.LFS_BRIDGE_DIRECT_GET !== '0' && !noDirect.has(origin)) {
    try {
      return await directGet({
        url: req.url,
        headers: { 'User-Agent': USER_AGENT, ...req.headers },
        signal: req.signal,
        stallMs: STALL_MS,
      });
    } catch (e) {
      if (!(e instanceof DirectUnsupported)) throw e;
      noDirect.add(origin);
    }
  }
  const res = await http({ ...req, method: 'GET' });
  return { status: res.status, headers: res.headers, body: readableFill(res.body) };
}

/** A header's single value. */
export function header(res: { headers: HttpResponse['headers'] }, name: string): string | undefined {
  const v = res.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Reads a (small) body as text; bodies of errors and RPC answers only. */
export async function text(res: HttpResponse): Promise<string> {
  try {
    return await res.body.text();
  } catch (e) {
    throw toBridgeError(e, 'reading a response');
  }
}

/** Discards a body we don't need, so the connection can be reused. */
export async function drain(res: HttpResponse): Promise<void> {
  await res.body.dump().catch(() => {});
}

export { checkEndpoint, endpointFor, endpointVar, isLoopbackHost, onEndpointWarning, rebase } from './endpoint.js';

/** Query strings of session and download URLs are bearer capabilities: never log them. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    return '(url)';
  }
}
