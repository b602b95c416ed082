/**
 * The git-lfs custom transfer protocol: message types, request validation and the
 * line-delimited JSON writer. Nothing here knows about providers.
 * See docs/protocol.md "Messages".
 */
import { type BridgeError, badRequest } from '../errors.js';

export type Operation = 'upload' | 'download';

export interface InitRequest {
  event: 'init';
  operation: Operation;
  remote: string;
  concurrent: boolean;
  concurrenttransfers: number;
}
export interface TransferRequest {
  event: Operation;
  oid: string;
  size: number;
  /** Upload only: the object in <lfs>/objects, read-only. */
  path?: string;
}
export interface TerminateRequest {
  event: 'terminate';
}

/** A line that could not be served as a request; `oid` is set when the line named one (its answer is a `complete`). */
export interface BadLine {
  event: 'bad';
  oid?: string;
  /** A broken `init`: it still needs a reply, or git-lfs waits forever. */
  init?: boolean;
  error: BridgeError;
}

export type Incoming = InitRequest | TransferRequest | TerminateRequest | BadLine;

const OID = /^[0-9a-f]{64}$/;
export const isOid = (s: unknown): s is string => typeof s === 'string' && OID.test(s);

/** Parses one stdin line; never throws. Shapes that cannot be answered at all come back as BadLine without oid. */
export function parseLine(line: string): Incoming | null {
  const text = line.trim();
  if (text === '') return null;
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return { event: 'bad', error: badRequest(`not JSON: ${clip(text)}`) };
  }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
    return { event: 'bad', error: badRequest(`not a JSON object: ${clip(text)}`) };
  }
  const m = msg as Record<string, unknown>;
  const rawOid = typeof m.oid === 'string' ? m.oid : undefined;
  switch (m.event) {
    case 'init': {
      const op = m.operation;
      if (op !== 'upload' && op !== 'download') {
        return {
          event: 'bad',
          init: true,
          error: badRequest(`init: operation must be "upload" or "download", got ${clip(op)}`),
        };
      }
      const n = Number.isSafeInteger(m.concurrenttransfers) ? (m.concurrenttransfers as number) : 1;
      return {
        event: 'init',
        operation: op,
        remote: typeof m.remote === 'string' ? m.remote : '',
        concurrent: m.concurrent !== false,
        concurrenttransfers: n,
      };
    }
    case 'upload':
    case 'download': {
      if (!isOid(m.oid)) {
        return { event: 'bad', oid: rawOid, error: badRequest(`invalid oid ${clip(m.oid)}: want 64 lowercase hex`) };
      }
      const size = m.size;
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
        return { event: 'bad', oid: m.oid, error: badRequest(`invalid size ${clip(size)} for ${m.oid}`) };
      }
      if (m.event === 'upload' && (typeof m.path !== 'string' || m.path === '')) {
        return { event: 'bad', oid: m.oid, error: badRequest(`upload of ${m.oid} has no path`) };
      }
      return { event: m.event, oid: m.oid, size, path: typeof m.path === 'string' ? m.path : undefined };
    }
    case 'terminate':
      return { event: 'terminate' };
    default:
      return { event: 'bad', oid: rawOid, error: badRequest(`unknown event ${clip(m.event)}`) };
  }
}

function clip(v: unknown): string {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(JSON.stringify(v) ?? v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

export interface ProgressEvent {
  event: 'progress';
  oid: string;
  bytesSoFar: number;
  bytesSinceLast: number;
}
export interface CompleteEvent {
  event: 'complete';
  oid: string;
  path?: string;
  error?: { code: number; message: string };
}
export type Outgoing =
  | ProgressEvent
  | CompleteEvent
  | Record<string, never>
  | { error: { code: number; message: string } };

/** git-lfs prints messages on one line; keep them short and free of control characters. */
export function wireError(e: BridgeError): { code: number; message: string } {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  let message = e.message.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  if (message.length > 1000) message = `${message.slice(0, 997)}...`;
  return { code: e.code, message };
}

/**
 * Writes protocol messages to stdout: one write per message (JSON + \n, far below PIPE_BUF, so atomic),
 * nothing else ever. After EPIPE (git-lfs is gone) it goes quiet.
 */
export class MessageWriter {
  private closed = false;
  constructor(private readonly out: NodeJS.WritableStream) {
    out.on('error', () => {
      this.closed = true;
    });
  }
  send(msg: Outgoing): void {
    if (this.closed) return;
    this.out.write(`${JSON.stringify(msg)}\n`);
  }
  get isClosed(): boolean {
    return this.closed;
  }
  /** Resolves once everything written so far has been handed to the OS. */
  drain(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => this.out.write('', () => resolve()));
  }
}
