/**
 * A source file's identity, taken without reading it: size, inode, and mtime and ctime in nanoseconds. Where an
 * upload's hash reads the file apart from the bytes that leave (pieces in parallel, a local kernel copy), the hash
 * alone cannot tell that both reads saw the same bytes; a stamp taken before the first read and found unchanged
 * before the commit can: any write moves ctime, which no user can set back.
 */
import type { BigIntStats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { type BridgeError, corrupt } from '../errors.js';

export interface SourceStamp {
  path: string;
  size: bigint;
  ino: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

export const stampOf = (path: string, st: BigIntStats): SourceStamp => ({
  path,
  size: st.size,
  ino: st.ino,
  mtimeNs: st.mtimeNs,
  ctimeNs: st.ctimeNs,
});

export const stampSource = async (path: string): Promise<SourceStamp> =>
  stampOf(path, await stat(path, { bigint: true }));

/** True when the file is not the one stamped any more (written, replaced, truncated or gone). */
export async function sourceChanged(s: SourceStamp): Promise<boolean> {
  const now = await stampSource(s.path).catch(() => null);
  return !now || now.size !== s.size || now.ino !== s.ino || now.mtimeNs !== s.mtimeNs || now.ctimeNs !== s.ctimeNs;
}

export const sourceChangedError = (s: SourceStamp, oid: string): BridgeError =>
  corrupt(
    `${s.path} changed while it was being uploaded, so ${oid} was not stored; push again once nothing writes to it`,
  );

/** Before a commit: throws when the source changed since it was stamped. */
export async function checkUnchanged(s: SourceStamp, oid: string): Promise<void> {
  if (await sourceChanged(s)) throw sourceChangedError(s, oid);
}
