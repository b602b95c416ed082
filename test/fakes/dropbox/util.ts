/** Small helpers shared by the fake Dropbox modules: ids, timestamps, JSON arguments, error replies. */
import { randomBytes } from 'node:crypto';

export type Json = Record<string, unknown>;

export const MiB = 1024 * 1024;
/** Dropbox: "A single request should not upload more than 150 MiB" (files.stone, upload_session/start). */
export const REQUEST_MAX = 150 * MiB;
/**
 * Dropbox: "The maximum size of a file one can upload to an upload session is 350 GB" (files.stone,
 * upload_session/start); beyond it an append fails with UploadSessionLookupError.too_large. The default of the
 * fake's `sessionMaxBytes` option.
 */
export const SESSION_MAX = 350e9;
export const HOUR = 3600_000;
export const DAY = 24 * HOUR;

/** URL-safe random string of about `bytes × 4/3` characters. */
export const randomToken = (bytes = 24): string => randomBytes(bytes).toString('base64url');
/** Dropbox timestamps have whole seconds: "2015-05-12T15:50:38Z". */
export const dropboxTime = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** JSON with every character from U+007F escaped, as Dropbox requires in HTTP headers. */
export function asciiJson(v: unknown): string {
  return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** A finished HTTP answer, thrown by handlers and rendered by the server. */
export class Reply extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly contentType = 'application/json',
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

/** `error_summary` as Dropbox builds it: the chain of union tags, then `/..`. */
export function errorSummary(error: unknown): string {
  const tags: string[] = [];
  let cur: unknown = error;
  while (cur && typeof cur === 'object') {
    const o = cur as Json;
    const tag = o['.tag'];
    if (typeof tag === 'string') tags.push(tag);
    const inner: unknown =
      typeof tag === 'string' && o[tag] && typeof o[tag] === 'object'
        ? o[tag]
        : Object.entries(o).find(([k, v]) => k !== '.tag' && v && typeof v === 'object' && '.tag' in v)?.[1];
    cur = inner;
  }
  return tags.join('/') + '/..';
}

/** 409 endpoint error with Dropbox's body `{"error_summary": …, "error": …}`. */
export const routeError = (error: Json): Reply =>
  new Reply(409, JSON.stringify({ error_summary: errorSummary(error), error }));

/** 400 plain text, the way Dropbox reports malformed input ("Error in call to API function …"). */
export const badInput = (route: string, msg: string): Reply =>
  new Reply(400, `Error in call to API function "${route}": ${msg}`, 'text/plain; charset=utf-8');

/** Tag of a Stone union value: void members may be bare strings (`"add"`) or `{".tag":"add"}`. */
export function unionTag(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as Json)['.tag'] === 'string') return (v as Json)['.tag'] as string;
  return undefined;
}

/** Path patterns from files.stone (`ReadPath`, `WritePathOrId`). */
const PATH_PATTERNS = {
  read: '(/(.|[\\r\\n])*|id:.*)|(rev:[0-9a-f]{9,})|(ns:[0-9]+(/(.|[\\r\\n])*)?)',
  write: '(/(.|[\\r\\n])*)|(ns:[0-9]+(/(.|[\\r\\n])*)?)|(id:.*)',
};

/** Typed accessors for JSON arguments; a wrong type is the caller's bug, reported as 400 like Dropbox does. */
export class Args {
  constructor(
    readonly route: string,
    readonly where: string,
    readonly v: Json,
  ) {}
  private fail(msg: string): never {
    throw badInput(this.route, `${this.where}: ${msg}`);
  }
  str(k: string): string;
  str(k: string, optional: true): string | undefined;
  str(k: string, optional?: boolean): string | undefined {
    const x = this.v[k];
    if (x === undefined || x === null) return optional ? undefined : this.fail(`missing required field "${k}"`);
    return typeof x === 'string' ? x : this.fail(`${k}: expected string, got ${typeof x}`);
  }
  bool(k: string, dflt: boolean): boolean {
    const x = this.v[k];
    if (x === undefined || x === null) return dflt;
    return typeof x === 'boolean' ? x : this.fail(`${k}: expected boolean, got ${typeof x}`);
  }
  uint(k: string): number {
    const x = this.v[k];
    if (x === undefined || x === null) return this.fail(`missing required field "${k}"`);
    return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 ? x : this.fail(`${k}: expected integer ≥ 0`);
  }
  obj(k: string): Args;
  obj(k: string, optional: true): Args | undefined;
  obj(k: string, optional?: boolean): Args | undefined {
    const x = this.v[k];
    if (x === undefined || x === null) return optional ? undefined : this.fail(`missing required field "${k}"`);
    if (typeof x !== 'object' || Array.isArray(x)) return this.fail(`${k}: expected object`);
    return new Args(this.route, `${this.where}: ${k}`, x as Json);
  }
  list(k: string): Args[] {
    const x = this.v[k];
    if (!Array.isArray(x)) return this.fail(`${k}: expected list`);
    return x.map((e, i) => {
      if (!e || typeof e !== 'object') return this.fail(`${k}[${i}]: expected object`);
      return new Args(this.route, `${this.where}: ${k}[${i}]`, e as Json);
    });
  }
  /** A path argument checked against its Stone pattern (400 on mismatch, as Dropbox does). */
  path(k: string, kind: 'read' | 'write'): string {
    const p = this.str(k);
    if (!new RegExp(`^(?:${PATH_PATTERNS[kind]})$`).test(p)) {
      this.fail(`${k}: '${p}' did not match pattern '${PATH_PATTERNS[kind]}'`);
    }
    return p;
  }
  /** Optional 64-hex `content_hash` (Sha256HexHash). */
  hash(k: string): string | undefined {
    const h = this.str(k, true);
    if (h !== undefined && !/^[0-9a-fA-F]{64}$/.test(h)) this.fail(`${k}: '${h}' is not a 64-character hex string`);
    return h?.toLowerCase();
  }
  union(k: string, allowed: string[], dflt: string): { tag: string; value: unknown } {
    const x = this.v[k];
    if (x === undefined || x === null) return { tag: dflt, value: undefined };
    const tag = unionTag(x);
    if (!tag || !allowed.includes(tag)) return this.fail(`${k}: unknown tag ${JSON.stringify(tag ?? x)}`);
    return { tag, value: typeof x === 'object' ? (x as Json)[tag] : undefined };
  }
}
