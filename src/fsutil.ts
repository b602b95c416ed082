/** Small filesystem helpers shared by the bridge and the local provider. */
import { stat } from 'node:fs/promises';

/** A file's length, 0 when it does not exist (an absent partial is an empty one). */
export async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
}
