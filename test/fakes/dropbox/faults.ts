/** Scripted faults for the next K matching requests, and the traffic counters tests and benchmarks read. */

export type FaultAction =
  /** Answer with this status (after reading the request body) instead of doing the operation. */
  | { kind: 'status'; status: number; headers?: Record<string, string>; body?: string }
  /**
   * Destroy the socket after this many request-body bytes (upload routes; nothing of the call is kept) or
   * response-body bytes (download and temporary-link routes). Other routes: destroyed before the operation.
   */
  | { kind: 'reset'; afterBytes: number }
  /** Wait, then serve normally. */
  | { kind: 'delay'; ms: number }
  /** Do the operation, then destroy the socket without answering (a lost reply). */
  | { kind: 'commit-then-drop' }
  /** Download routes: answer a Range request with the whole body and a 200, as some servers and proxies do. */
  | { kind: 'ignore-range' }
  /**
   * Flip byte `byteIndex` of the response body (counted from the first byte sent, i.e. within a range), or of
   * the request body on upload routes (stored and hashed as if the client had sent it).
   */
  | { kind: 'corrupt'; byteIndex: number };

export interface Fault {
  /** Route path, e.g. '/2/files/upload_session/append_v2', '/oauth2/token', '/link/*'; a trailing '*' is a prefix. */
  route: string;
  /** Substring of the request URL, its JSON argument (Dropbox-API-Arg, `arg` or RPC body) or form body. */
  match?: string;
  /** Matching requests this fault applies to (default 1). */
  times?: number;
  /** Matching requests to let through untouched first (default 0). */
  skip?: number;
  action: FaultAction;
}

interface Pending {
  route: string;
  match?: string;
  times: number;
  skip: number;
  action: FaultAction;
}

const KINDS = ['status', 'reset', 'delay', 'commit-then-drop', 'ignore-range', 'corrupt'];

/** Queue of scripted faults; the first pending one matching a request is used. */
export class FaultController {
  private pending: Pending[] = [];

  /** Schedules a fault; throws on a malformed one so a test typo fails loudly. */
  add(f: Fault): void {
    if (!f || typeof f.route !== 'string' || !f.action || !KINDS.includes(f.action.kind)) {
      throw new Error(`fake dropbox: bad fault ${JSON.stringify(f)}`);
    }
    const a = f.action;
    const num = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= 0;
    if (
      (a.kind === 'status' && !(Number.isInteger(a.status) && a.status >= 100 && a.status < 600)) ||
      (a.kind === 'reset' && !num(a.afterBytes)) ||
      (a.kind === 'delay' && !num(a.ms)) ||
      (a.kind === 'corrupt' && !num(a.byteIndex))
    ) {
      throw new Error(`fake dropbox: bad fault action ${JSON.stringify(a)}`);
    }
    this.pending.push({ route: f.route, match: f.match, times: f.times ?? 1, skip: f.skip ?? 0, action: a });
  }

  /** Drops every pending fault. */
  clear(): void {
    this.pending = [];
  }

  /** Pending faults, with their remaining counts. */
  list(): Fault[] {
    return this.pending.map((p) => ({ ...p }));
  }

  /** Consumes one application of the first fault matching this request. */
  take(route: string, text: string): FaultAction | undefined {
    for (const p of this.pending) {
      const routeOk = p.route.endsWith('*') ? route.startsWith(p.route.slice(0, -1)) : route === p.route;
      if (!routeOk || (p.match !== undefined && !text.includes(p.match))) continue;
      if (p.skip > 0) {
        p.skip--;
        continue;
      }
      if (--p.times <= 0) this.pending.splice(this.pending.indexOf(p), 1);
      return p.action;
    }
    return undefined;
  }
}

export interface CountersSnapshot {
  /** route → requests. */
  requests: Record<string, number>;
  /** route → request-body bytes received (including bytes of failed or reset calls). */
  bytesIn: Record<string, number>;
  /** path_lower → request-body bytes: `files/upload` as received; a session's bytes are added at its finish. */
  bytesInByPath: Record<string, number>;
  /** session_id → request-body bytes received by start, append_v2 and finish. */
  bytesInBySession: Record<string, number>;
  /** route → response-body bytes sent by downloads and temporary links. */
  bytesOut: Record<string, number>;
  /** path_lower → response-body bytes sent. */
  bytesOutByPath: Record<string, number>;
  /** Successful `grant_type=refresh_token` calls. */
  refreshes: number;
  /** Faults applied. */
  faults: number;
  /** upload_session/start calls with session_type concurrent. */
  concurrentSessions: number;
  /** Most append_v2 bodies being received at the same time. */
  appendsAtOnceMax: number;
}

const add = (m: Record<string, number>, k: string, n: number) => {
  m[k] = (m[k] ?? 0) + n;
};

/** Traffic counters; `snapshot()` is what `GET /__fake/counters` returns. */
export class Counters implements CountersSnapshot {
  requests: Record<string, number> = {};
  bytesIn: Record<string, number> = {};
  bytesInByPath: Record<string, number> = {};
  bytesInBySession: Record<string, number> = {};
  bytesOut: Record<string, number> = {};
  bytesOutByPath: Record<string, number> = {};
  refreshes = 0;
  faults = 0;
  concurrentSessions = 0;
  appendsAtOnceMax = 0;
  private appendsNow = 0;
  /** When each API request arrived (epoch ms) and its route: in-process tests only (not in the snapshot). */
  arrivals: { at: number; route: string }[] = [];
  /** When each fault was applied (epoch ms): in-process tests only. */
  faultsAt: number[] = [];

  /** Zeroes everything. */
  reset(): void {
    this.requests = {};
    this.bytesIn = {};
    this.bytesInByPath = {};
    this.bytesInBySession = {};
    this.bytesOut = {};
    this.bytesOutByPath = {};
    this.refreshes = 0;
    this.faults = 0;
    this.concurrentSessions = 0;
    this.appendsAtOnceMax = 0;
    this.arrivals = [];
    this.faultsAt = [];
  }

  /** A deep copy, safe to keep while traffic goes on. */
  snapshot(): CountersSnapshot {
    return structuredClone({
      requests: this.requests,
      bytesIn: this.bytesIn,
      bytesInByPath: this.bytesInByPath,
      bytesInBySession: this.bytesInBySession,
      bytesOut: this.bytesOut,
      bytesOutByPath: this.bytesOutByPath,
      refreshes: this.refreshes,
      faults: this.faults,
      concurrentSessions: this.concurrentSessions,
      appendsAtOnceMax: this.appendsAtOnceMax,
    });
  }

  toJSON(): CountersSnapshot {
    return this.snapshot();
  }

  /** An append body starts arriving; call the returned function when it is over. */
  appendStarted(): () => void {
    this.appendsNow++;
    this.appendsAtOnceMax = Math.max(this.appendsAtOnceMax, this.appendsNow);
    let ended = false;
    return () => {
      if (!ended) this.appendsNow--;
      ended = true;
    };
  }

  request(route: string): void {
    add(this.requests, route, 1);
    this.arrivals.push({ at: Date.now(), route });
  }
  received(route: string, n: number, path?: string, session?: string): void {
    add(this.bytesIn, route, n);
    if (path !== undefined) add(this.bytesInByPath, path, n);
    if (session !== undefined) add(this.bytesInBySession, session, n);
  }
  sessionCommitted(session: string, path: string): void {
    add(this.bytesInByPath, path, this.bytesInBySession[session] ?? 0);
  }
  sent(route: string, n: number, path: string): void {
    add(this.bytesOut, route, n);
    add(this.bytesOutByPath, path, n);
  }
}
