/**
 * One HTTP/1.1 GET whose body is read by the socket straight into the caller's buffers (net/tls `onread` with a
 * buffer chosen per read), for large ranged downloads only. undici and node:http both read into fresh 64 KiB
 * buffers that the caller then copies; receiving 1 GiB from the fake Dropbox on loopback cost 1.0 core-s with
 * undici (0.8 with node:http) and 0.25 with this, and those buffers were what kept V8 running major collections
 * during a download. Everything else (RPC, uploads, proxies, small ranges) stays on undici (index.ts).
 *
 * Deliberately narrow: no proxy, no redirects, no keep-alive (`Connection: close`: one large range per
 * connection), and a 2xx body must have a Content-Length. A 2xx answer outside that (chunked, no length) throws
 * DirectUnsupported before a body byte is read, and the caller asks again through undici.
 */

import * as net from 'node:net';
import { isIP } from 'node:net';
import * as tls from 'node:tls';
import { toBridgeError, transient } from '../errors.js';
import type { FillBody, FillSink } from './fill-body.js';

/** The answer cannot be read on this path (the caller falls back to undici); nothing of the body was consumed. */
export class DirectUnsupported extends Error {}

export interface DirectRequest {
  url: string;
  headers: Record<string, string>;
  signal?: AbortSignal;
  /** No byte either way for this long fails the request (a stall). */
  stallMs: number;
  /** Extra TLS options (tests: a loopback server's CA). */
  tls?: tls.ConnectionOptions;
}

export interface DirectResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: FillBody;
}

/** Reads that land outside the sink's regions: the response head, and the first read after a pause. */
const SPILL = 64 * 1024;
const MAX_HEAD = 64 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');

export function directGet(req: DirectRequest): Promise<DirectResponse> {
  return new DirectGet(req).start();
}

class DirectGet implements FillBody {
  private readonly spill = Buffer.allocUnsafe(SPILL);
  private head = Buffer.allocUnsafe(0);
  private phase: 'head' | 'body' | 'done' = 'head';
  private socket!: net.Socket;
  private sink?: FillSink;
  /** Body bytes received into the spill buffer (or after the head) not yet given to the sink. */
  private pending = Buffer.allocUnsafe(0);
  /** The sink region handed to the socket for its next read (undefined: the spill buffer). */
  private next?: Uint8Array;
  private remaining = 0;
  private onHead?: { resolve: (r: DirectResponse) => void; reject: (e: Error) => void };
  private onEnd?: { resolve: () => void; reject: (e: Error) => void };
  private result?: Error | null;
  private readonly abort = () => this.fail(this.req.signal?.reason ?? new Error('aborted'));

  constructor(private readonly req: DirectRequest) {}

  start(): Promise<DirectResponse> {
    const u = new URL(this.req.url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new DirectUnsupported(`scheme ${u.protocol}`);
    for (const [k, v] of Object.entries(this.req.headers))
      if (/[\r\n]/.test(k + v)) throw new TypeError(`header ${k} holds a line break`);
    if (this.req.signal?.aborted) return Promise.reject(this.req.signal.reason);
    const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
    const secure = u.protocol === 'https:';
    const onread = {
      buffer: () => this.next ?? this.spill,
      callback: (n: number, buf: Uint8Array) => this.read(n, buf),
    };
    const port = Number(u.port || (secure ? 443 : 80));
    this.socket = secure
      ? tls.connect({
          host,
          port,
          servername: isIP(host) ? undefined : host,
          ALPNProtocols: ['http/1.1'],
          onread,
          ...this.req.tls,
        } as tls.ConnectionOptions)
      : net.connect({ host, port, onread });
    const s = this.socket;
    s.setNoDelay(true);
    s.setTimeout(this.req.stallMs, () =>
      this.fail(transient(`GET ${u.origin}: no byte for ${Math.round(this.req.stallMs / 1000)} s`)),
    );
    s.on('error', (e) => this.fail(toBridgeError(e, `GET ${u.origin}${u.pathname}`)));
    // The server closed: fine once every body byte is here (some may wait in `pending` for the sink).
    s.on('end', () => s.destroy());
    s.on('close', () => {
      if (this.phase !== 'body' || this.pending.length < this.remaining) this.fail(transient(this.closedEarly()));
    });
    const lines = [`GET ${u.pathname}${u.search} HTTP/1.1`, `Host: ${u.host}`];
    for (const [k, v] of Object.entries(this.req.headers)) lines.push(`${k}: ${v}`);
    lines.push('Accept-Encoding: identity', 'Connection: close', '', '');
    s.write(lines.join('\r\n'));
    s.resume(); // reading starts now; the readable side must flow for 'end' to be seen
    this.req.signal?.addEventListener('abort', this.abort, { once: true });
    return new Promise((resolve, reject) => {
      this.onHead = { resolve, reject };
    });
  }

  private closedEarly(): string {
    return this.phase === 'head'
      ? 'the server closed the connection before answering'
      : `the response body ended ${this.remaining} bytes early`;
  }

  /** Every read of the socket: into the spill buffer (head, first read after a pause) or into a sink region. */
  private read(n: number, buf: Uint8Array): boolean {
    this.next = undefined;
    if (this.phase === 'done') return false;
    if (this.phase === 'head') {
      this.head = Buffer.concat([this.head, buf.subarray(0, n)]);
      return this.parseHead();
    }
    if (buf === this.spill) {
      // TLS may go on handing over decrypted bytes after a pause: they queue up behind what is pending.
      const got = this.spill.subarray(0, n);
      this.pending = this.pending.length ? Buffer.concat([this.pending, got]) : got;
    } else {
      this.remaining -= n;
      this.sink!.filled(n);
    }
    const more = this.flow();
    // The spill buffer takes the next read: what is still pending must not live in it.
    if (this.pending.length && this.pending.buffer === this.spill.buffer) this.pending = Buffer.from(this.pending);
    return more;
  }

  /** Gives pending bytes to the sink and picks the region for the next read; false pauses the socket. */
  private flow(): boolean {
    while (this.pending.length > 0 && this.phase === 'body') {
      if (this.remaining === 0)
        this.pending = this.pending.subarray(0, 0); // past the Content-Length: ignored
      else {
        const reg = this.sink?.region();
        if (!reg) return false;
        const k = Math.min(reg.length, this.pending.length, this.remaining);
        reg.set(this.pending.subarray(0, k));
        this.pending = this.pending.subarray(k);
        this.remaining -= k;
        this.sink!.filled(k);
      }
    }
    if (this.phase !== 'body') return false;
    if (this.remaining === 0) {
      this.settle(null);
      return false;
    }
    const reg = this.sink?.region();
    if (!reg) return false;
    this.next = reg.length > this.remaining ? reg.subarray(0, this.remaining) : reg;
    return true;
  }

  private parseHead(): boolean {
    for (;;) {
      const end = this.head.indexOf(HEAD_END);
      if (end < 0) {
        if (this.head.length > MAX_HEAD) this.fail(transient(`response head larger than ${MAX_HEAD} bytes`));
        return this.phase === 'head';
      }
      const text = this.head.subarray(0, end).toString('latin1');
      const rest = this.head.subarray(end + 4);
      const [statusLine, ...fields] = text.split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
      if (!m) {
        this.fail(transient(`not an HTTP/1.1 answer: ${JSON.stringify(statusLine.slice(0, 40))}`));
        return false;
      }
      const status = Number(m[1]);
      if (status >= 100 && status < 200) {
        this.head = rest; // 100 Continue, 103 Early Hints: the real answer follows
        continue;
      }
      const headers: Record<string, string> = {};
      for (const f of fields) {
        const i = f.indexOf(':');
        if (i <= 0) continue;
        const k = f.slice(0, i).trim().toLowerCase();
        const v = f.slice(i + 1).trim();
        headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
      }
      const length = headers['content-length'];
      const ok = status >= 200 && status < 300;
      if (ok && (headers['transfer-encoding'] || !/^\d+$/.test(length ?? ''))) {
        this.fail(new DirectUnsupported(`a ${status} answer without a plain Content-Length`));
        return false;
      }
      this.phase = 'body';
      this.remaining = ok ? Number(length) : 0; // an error's body is not read: the caller has status and headers
      this.pending = Buffer.from(rest); // copied: `head` goes away
      this.head = Buffer.allocUnsafe(0);
      this.onHead?.resolve({ status, headers, body: this });
      this.onHead = undefined;
      if (!ok) this.settle(null);
      return false; // paused until pipeTo gives a sink
    }
  }

  pipeTo(sink: FillSink): Promise<void> {
    if (this.result !== undefined) return this.result ? Promise.reject(this.result) : Promise.resolve();
    this.sink = sink;
    const p = new Promise<void>((resolve, reject) => {
      this.onEnd = { resolve, reject };
    });
    this.resume();
    return p;
  }

  resume(): void {
    if (this.phase !== 'body' || !this.sink) return;
    if (this.flow()) this.socket.resume();
  }

  destroy(err?: Error): void {
    this.settle(err ?? null);
  }

  private fail(e: Error): void {
    this.settle(e);
  }

  /** The one way out: the body is complete (null), ended early by the caller, or failed. */
  private settle(e: Error | null): void {
    if (this.result !== undefined) return;
    this.result = e;
    this.phase = 'done';
    this.req.signal?.removeEventListener('abort', this.abort);
    this.socket.destroy();
    if (this.onHead) {
      this.onHead.reject(e ?? transient(this.closedEarly()));
      this.onHead = undefined;
    }
    if (this.onEnd) {
      if (e) this.onEnd.reject(e);
      else this.onEnd.resolve();
      this.onEnd = undefined;
    }
  }
}
