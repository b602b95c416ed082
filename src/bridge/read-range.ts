/** Opens a range of a stored object wherever the provider keeps it: a URL (src/http) or a file on this machine. */
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { notFound, toBridgeError } from '../errors.js';
import { readableFill } from '../http/fill-body.js';
import { type RangeRead, readUrlRange } from '../http/ranged-read.js';
import type { Provider } from '../providers/types.js';

export type { RangeRead };

/** [start, end) of the object (end exclusive). */
export type RangeOpener = (
  oid: string,
  size: number,
  start: number,
  end: number,
  signal?: AbortSignal,
) => Promise<RangeRead>;

export function rangeOpener(p: Provider, env?: NodeJS.ProcessEnv): RangeOpener {
  return async (oid, size, start, end, signal) => {
    const t = await p.readTarget(oid, size, signal);
    if (t.kind === 'url') return readUrlRange(t, size, start, end, { signal, env });
    return readFileRange(t.path, oid, start, end);
  };
}

const MiB = 1 << 20;

async function readFileRange(path: string, oid: string, start: number, end: number): Promise<RangeRead> {
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw e.code === 'ENOENT' ? notFound(`${oid} is not at ${path}`) : toBridgeError(e, path);
  });
  if (end <= start) {
    await fh.close();
    return { start, body: readableFill(Readable.from([])) }; // fs streams cannot express an empty range
  }
  return { start, body: readableFill(fh.createReadStream({ start, end: end - 1, highWaterMark: MiB })) };
}
