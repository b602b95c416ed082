/** Small filesystem helpers shared by the bridge, the local provider and the error renderer. */
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

/** What a file-system call could not do, in words (errno code → a phrase a person reads). */
const reasons: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is used up',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'it is a folder',
  EEXIST: 'it already exists',
  ENOTEMPTY: 'the folder is not empty',
  EBUSY: 'it is busy',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
  EIO: 'input/output error (a failing disk or share?)',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
  EXDEV: 'it is on another file system',
  ESTALE: 'the network share went away',
};

/** The errno `code` in words; undefined for a code without a phrase. */
export const fsReason = (code: string | undefined): string | undefined => (code ? reasons[code] : undefined);
