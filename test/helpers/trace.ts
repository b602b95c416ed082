/**
 * Reading a git-lfs trace (GIT_TRACE=<file> GIT_TRANSFER_TRACE=1). The custom adapter logs every message both
 * ways as
 *   trace git-lfs: xfer: Custom adapter worker <n> sending message: <json>
 *   trace git-lfs: xfer: Custom adapter worker <n> received response: <json>
 * and each transfer queue opens with `xfer: adapter "<name>" Begin() with <n> workers`. Worker numbers restart with
 * every queue (and every git-lfs process writing to the same file), so messages are keyed by queue and worker.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';

export interface WireMsg {
  event?: string;
  oid?: string;
  size?: number;
  path?: string;
  bytesSoFar?: number;
  bytesSinceLast?: number;
  error?: { code: number; message: string };
  [k: string]: unknown;
}

export interface TraceMsg {
  /** Index of the Begin() this message belongs to. */
  queue: number;
  worker: number;
  /** "queue:worker": one agent process. */
  proc: string;
  dir: 'sent' | 'recv';
  msg: WireMsg;
  /** Line number in the trace file. */
  line: number;
}

export interface Trace {
  text: string;
  msgs: TraceMsg[];
  /** proc keys of workers whose process started and answered init without error. */
  started: string[];
  /** Lines where git-lfs reports that an agent exited non-zero or had to be killed at shutdown. */
  badExits: string[];
}

const MSG = /xfer: Custom adapter worker (\d+) (sending message|received response): (.*)$/;

export function parseTrace(text: string, agent = 'lfs-bridge'): Trace {
  const msgs: TraceMsg[] = [];
  const started: string[] = [];
  const badExits: string[] = [];
  let queue = -1;
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (line.includes(`xfer: adapter "${agent}" Begin()`)) {
      queue++;
      continue;
    }
    const s = /xfer: started custom adapter process .* for worker (\d+) OK/.exec(line);
    if (s) {
      started.push(`${queue}:${s[1]}`);
      continue;
    }
    if (/error finishing up custom transfer process|Aborting worker process/.test(line)) badExits.push(line);
    const m = MSG.exec(line);
    if (!m) continue;
    let msg: WireMsg;
    try {
      msg = JSON.parse(m[3]);
    } catch {
      msg = { event: '<not json>', raw: m[3] };
    }
    const worker = Number(m[1]);
    msgs.push({
      queue,
      worker,
      proc: `${queue}:${worker}`,
      dir: m[2] === 'sending message' ? 'sent' : 'recv',
      msg,
      line: i,
    });
  }
  return { text, msgs, started, badExits };
}

export async function readTrace(file: string, agent?: string): Promise<Trace> {
  return parseTrace(await readFile(file, 'utf8'), agent);
}

/** Transfer requests (upload/download) git-lfs sent, in trace order. */
export const requests = (t: Trace) =>
  t.msgs.filter((m) => m.dir === 'sent' && (m.msg.event === 'upload' || m.msg.event === 'download'));

export const completes = (t: Trace) => t.msgs.filter((m) => m.dir === 'recv' && m.msg.event === 'complete');

export const progresses = (t: Trace, oid?: string) =>
  t.msgs.filter((m) => m.dir === 'recv' && m.msg.event === 'progress' && (!oid || m.msg.oid === oid));

/** One request and what its worker answered to it, up to its complete. */
export interface Exchange {
  proc: string;
  oid: string;
  size: number;
  request: TraceMsg;
  progress: TraceMsg[];
  complete?: TraceMsg;
  /** Messages from the worker for this request that are neither progress nor complete, or for another oid. */
  stray: TraceMsg[];
}

/** Pairs every request with the responses its worker sent before the next request on that worker. */
export function exchanges(t: Trace): Exchange[] {
  const out: Exchange[] = [];
  const current = new Map<string, Exchange>();
  for (const m of t.msgs) {
    if (m.dir === 'sent') {
      if (m.msg.event !== 'upload' && m.msg.event !== 'download') continue;
      const x: Exchange = {
        proc: m.proc,
        oid: String(m.msg.oid),
        size: Number(m.msg.size),
        request: m,
        progress: [],
        stray: [],
      };
      out.push(x);
      current.set(m.proc, x);
      continue;
    }
    const x = current.get(m.proc);
    if (!x) continue; // the init reply
    if (x.complete || m.msg.oid !== x.oid) x.stray.push(m);
    else if (m.msg.event === 'progress') x.progress.push(m);
    else if (m.msg.event === 'complete') x.complete = m;
    else x.stray.push(m);
  }
  return out;
}

/**
 * AT-2 for one successful exchange: progress never decreases, each bytesSinceLast is the difference, Σ
 * bytesSinceLast == size, the last progress has bytesSoFar == size, and the worker's next message is the complete.
 */
export function checkProgress(x: Exchange): void {
  const what = `${x.oid} (${x.size} bytes, worker ${x.proc})`;
  assert.ok(x.complete, `${what}: no complete`);
  assert.equal(x.complete.msg.error, undefined, `${what}: failed: ${JSON.stringify(x.complete.msg.error)}`);
  assert.deepEqual(x.stray, [], `${what}: unexpected messages`);
  assert.ok(x.progress.length >= 1, `${what}: no progress event`);
  let prev = 0;
  let sum = 0;
  for (const p of x.progress) {
    const { bytesSoFar, bytesSinceLast } = p.msg;
    assert.ok(Number.isSafeInteger(bytesSoFar) && Number.isSafeInteger(bytesSinceLast), `${what}: non-integer counts`);
    assert.ok((bytesSoFar as number) >= prev, `${what}: bytesSoFar went from ${prev} to ${bytesSoFar}`);
    assert.equal(bytesSinceLast, (bytesSoFar as number) - prev, `${what}: bytesSinceLast at ${bytesSoFar}`);
    prev = bytesSoFar as number;
    sum += bytesSinceLast as number;
  }
  assert.equal(sum, x.size, `${what}: Σ bytesSinceLast`);
  assert.equal(x.progress.at(-1)?.msg.bytesSoFar, x.size, `${what}: last bytesSoFar`);
  // The worker's next message after the last progress is this oid's complete.
  const last = x.progress.at(-1) as TraceMsg;
  assert.ok(last.line < x.complete.line, `${what}: complete before the last progress`);
}
