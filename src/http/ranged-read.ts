/**
 * A range of a body behind a URL, and every check of the answer, for all providers: a provider only says which
 * URL and headers to read (providers/types.ts ReadTarget). A 206 must start where it was asked; a 200 to a Range
 * request is the whole body from byte 0 (the reader skips to where it wanted: never bytes taken for others).
 */
import { transient } from '../errors.js';
import type { FillBody } from './fill-body.js';
import { header, rangeGet } from './index.js';

export interface UrlTarget {
  url: string;
  headers?: Record<string, string>;
  onError(status: number, retryAfter: string | undefined): Error;
}

export interface RangeRead {
  /** Where the body starts in the object: the asked start, or 0 when the server ignored the Range. */
  start: number;
  /** Fills the downloader's buffers (over a direct connection, the socket reads straight into them). */
  body: FillBody;
}

/** [start, end) of an object of `size` bytes at `t` (end exclusive); no Range header when that is the whole body. */
export async function readUrlRange(
  t: UrlTarget,
  size: number,
  start: number,
  end: number,
  o: { signal?: AbortSignal; env?: NodeJS.ProcessEnv } = {},
): Promise<RangeRead> {
  const range: Record<string, string> = start > 0 || end < size ? { range: `bytes=${start}-${end - 1}` } : {};
  const res = await rangeGet(
    { url: t.url, headers: { ...t.headers, ...range }, signal: o.signal, env: o.env },
    end - start,
  );
  if (res.status === 206) {
    const m = /^bytes (\d+)-/.exec(header(res, 'content-range') ?? '');
    if (!m || Number(m[1]) !== start) {
      res.body.destroy();
      throw transient(`range answer starts at ${m?.[1] ?? '?'}, asked ${start}`);
    }
    return { start, body: res.body };
  }
  if (res.status === 200) return { start: 0, body: res.body };
  res.body.destroy(); // an error's body is not needed: the status and Retry-After say it all
  if (res.status === 416) throw transient(`range ${start}-${end - 1} of ${size} bytes not satisfiable`);
  throw t.onError(res.status, header(res, 'retry-after'));
}
