/**
 * The one-shot loopback redirect receiver of RFC 8252 §7.3: an HTTP server on 127.0.0.1 (and ::1 where asked)
 * that takes one redirect on `path`, checks `state`, shows the browser a short page, and closes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { authError, BridgeError, configError } from '../errors.js';

export interface LoopbackOptions {
  /** Addresses to listen on, all on one port: the first decides the port when `port` is 0. */
  hosts: string[];
  /** 0 = any free port. */
  port: number;
  /** The redirect path, e.g. '/callback'. */
  path: string;
  state: string;
  timeoutMs: number;
  /** For pages and messages: 'Dropbox'. */
  title: string;
  /** For messages: 'dropbox'. */
  provider: string;
  /** Appended to a port-in-use error (how to pick another port). */
  portHint?: string;
  /** Appended to the timeout error (another way to log in). */
  timeoutHint?: string;
  /** Told about a request that is not this login's answer (the login goes on waiting for the right one). */
  onIgnored?(why: string): void;
}

export interface Loopback {
  port: number;
  /** Resolves with the authorization code; rejects on a denial or the timeout. */
  code: Promise<string>;
  close(): Promise<void>;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res: ServerResponse, status: number, title: string, body: string): Promise<void> {
  const html =
    `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title>` +
    '<style>body{font-family:system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em;color:#222}</style>' +
    `</head><body><h1>${esc(title)}</h1><p>${body}</p></body></html>`;
  return new Promise((resolve) => {
    res.writeHead(status, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'referrer-policy': 'no-referrer',
      connection: 'close',
    });
    res.end(html, () => resolve());
  });
}

const minutes = (ms: number) =>
  ms % 60_000 === 0 ? `${ms / 60_000} min` : ms >= 60_000 ? `${Math.round(ms / 6000) / 10} min` : `${ms / 1000} s`;

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startLoopback(o: LoopbackOptions): Promise<Loopback> {
  let settle: { resolve(code: string): void; reject(e: Error): void } | undefined;
  const code = new Promise<string>((resolve, reject) => {
    settle = { resolve, reject };
  });
  code.catch(() => {}); // the caller may await it later (after opening the browser): no unhandled rejection
  let done = false;
  const servers: Server[] = [];
  let timer: NodeJS.Timeout | undefined;

  const close = async () => {
    clearTimeout(timer);
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
  };
  const finish = (err: Error | null, value?: string) => {
    if (done) return;
    done = true;
    if (err) settle!.reject(err);
    else settle!.resolve(value!);
    setImmediate(() => void close());
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (req.method !== 'GET' || url.pathname !== o.path || done) {
      // favicon, probes, a second tab: not ours, and no reason to abort the login
      await page(res, 404, 'Not found', 'This is lfs-bridge waiting for a login redirect.');
      return;
    }
    const q = url.searchParams;
    if (q.get('state') !== o.state) {
      // A stale tab of an earlier login, or a forged request: refused, and the real answer may still come.
      await page(
        res,
        400,
        'Not this login',
        'This answer does not belong to the login lfs-bridge is waiting for (its state does not match): it was ignored. Finish the login in the tab that lfs-bridge opened, or open the URL it printed.',
      );
      o.onIgnored?.(
        `[${o.provider}] ignored a redirect whose state did not match this login (a stale browser tab, or a forged request); still waiting`,
      );
      return;
    }
    const error = q.get('error');
    if (error) {
      const desc = q.get('error_description');
      await page(res, 400, 'Login failed', `${esc(o.title)} answered: ${esc(error)}${desc ? ` — ${esc(desc)}` : ''}`);
      finish(
        authError(
          `[${o.provider}] ${error === 'access_denied' ? 'access was denied in the browser' : `${o.title} refused the login`}: ${error}${desc ? ` (${desc})` : ''}`,
        ),
      );
      return;
    }
    const c = q.get('code');
    if (!c) {
      await page(
        res,
        400,
        'No code',
        'This redirect carried no authorization code: it was ignored, the login is still waiting.',
      );
      o.onIgnored?.(`[${o.provider}] ignored a redirect without an authorization code; still waiting`);
      return;
    }
    // The tokens are not exchanged yet (that may still fail): the page says so, the terminal shows the outcome.
    await page(
      res,
      200,
      `lfs-bridge: ${o.title} login`,
      'Authorization received, finishing the login in the terminal. You can close this tab; the terminal shows whether the login succeeded.',
    );
    finish(null, c);
  };

  let port = o.port;
  for (const host of o.hosts) {
    const server = createServer((req, res) => {
      handle(req, res).catch(() => res.destroy());
    });
    try {
      port = await listen(server, host, port);
      servers.push(server);
    } catch (e) {
      const errno = (e as NodeJS.ErrnoException).code;
      // ::1 on a machine without IPv6 is fine as long as one address listens
      if (servers.length && (errno === 'EADDRNOTAVAIL' || errno === 'EAFNOSUPPORT')) continue;
      await close();
      if (errno === 'EADDRINUSE') {
        throw configError(
          `[${o.provider}] port ${port} on ${host} is in use, so the login redirect cannot be received${o.portHint ? `: ${o.portHint}` : ''}`,
        );
      }
      throw new BridgeError(
        'Unexpected',
        false,
        `[${o.provider}] cannot listen on ${host}:${port}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  }
  timer = setTimeout(
    () =>
      finish(
        authError(
          `[${o.provider}] no answer from the browser within ${minutes(o.timeoutMs)}: run lfs-bridge login ${o.provider} again (--timeout SECONDS waits longer${o.timeoutHint ? `; ${o.timeoutHint}` : ''})`,
        ),
      ),
    o.timeoutMs,
  );
  return { port, code, close };
}
