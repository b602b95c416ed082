/** Small filesystem helpers shared by the bridge and the local provider. */
import { type FileHandle, stat } from 'node:fs/promises';

/** A file's length, 0 when it does not exist (an absent partial is an empty one). */
export async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
}

/** Writes all of `buf` at `pos` (a positional write may take fewer bytes than it is given). */
export async function writeAllAt(fh: FileHandle, buf: Uint8Array, pos: number): Promise<void> {
  for (let off = 0; off < buf.length; ) off += (await fh.write(buf, off, buf.length - off, pos + off)).bytesWritten;
}
