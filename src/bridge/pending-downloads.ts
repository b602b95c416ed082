/**
 * Downloads that stopped part-way, for `status`: the partials in `<lfs>/incomplete/lfs-bridge/` and the object size
 * their sidecar records (download.ts, segments.ts write them). The one place outside the downloader that reads
 * that format.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface PendingDownload {
  oid: string;
  bytesDone: number;
  /** The object's size, from the sidecar (absent without one). */
  total?: number;
  mtimeMs: number;
}

export async function pendingDownloads(incomplete: string): Promise<PendingDownload[]> {
  const out: PendingDownload[] = [];
  for (const name of await readdir(incomplete).catch(() => [] as string[])) {
    const m = /^([0-9a-f]{64})\.part$/.exec(name);
    if (!m) continue;
    const st = await stat(join(incomplete, name)).catch(() => null);
    if (!st) continue; // finished (or swept) meanwhile
    let total: number | undefined;
    try {
      total = JSON.parse(await readFile(join(incomplete, `${m[1]}.state`), 'utf8')).size;
    } catch {
      // no sidecar: total unknown
    }
    out.push({ oid: m[1], bytesDone: st.size, total, mtimeMs: st.mtimeMs });
  }
  return out;
}
