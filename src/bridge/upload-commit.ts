/**
 * What every session upload ends with, whichever way its bytes travelled (upload.ts in order, upload-pieces.ts in
 * parallel pieces): the object's hash, the commit with retries, and the check of what the provider stored.
 */
import { BridgeError, corrupt } from '../errors.js';
import { serverHasher } from '../hash/index.js';
import type { Provider, RemoteObject } from '../providers/types.js';
import type { TransferContext } from './context.js';
import { THREAD_MIN } from './disk-thread.js';
import type { TransferRequest } from './protocol.js';
import { withRetry } from './retry.js';
import { ObjectHash, type StreamHash } from './tap.js';
import { ThreadedObjectHash } from './upload-hash.js';

/** The session is gone on the server (expired, or finished by an answer we lost): start a new one. */
export class SessionGone extends Error {}

/**
 * The object's hash for an upload: large objects sent over the network are hashed on the disk thread
 * (upload-hash.ts) from copies of the pieces sent; small ones, and a local store's kernel copy (which leaves this
 * thread free to hash), here.
 */
export async function objectHash(p: Provider, req: TransferRequest): Promise<StreamHash> {
  if (req.size >= THREAD_MIN && !p.copyFromFile) return ThreadedObjectHash.open(req.oid, req.size, p.caps.serverHash);
  return new ObjectHash(req.oid, req.size, serverHasher(p.caps.serverHash));
}

export async function checkCommitted(p: Provider, res: RemoteObject, hash: StreamHash): Promise<void> {
  if (res.size !== hash.size) throw corrupt(`${p.name} stored ${res.size} bytes of ${hash.oid}, expected ${hash.size}`);
  if (!res.hash) return;
  await hash.settle?.();
  const want = p.caps.serverHash === 'sha256' ? hash.oid : hash.serverHash();
  if (want && res.hash.toLowerCase() !== want.toLowerCase()) {
    // Not the object: left there, `stat` would pass it for the object on every later push. The next push
    // (git-lfs retries) uploads it again.
    const removed = p.remove
      ? await p.remove(hash.oid).then(
          () => 'deleted it',
          (e) => `could not delete it: ${e}`,
        )
      : 'left it';
    throw corrupt(
      `${p.name} reports hash ${res.hash} for ${hash.oid}, but the bytes sent hash to ${want} (${removed})`,
    );
  }
}

/**
 * Runs a commit with retries. A Conflict (another writer stored the oid first) or a NotFound (our commit went
 * through and its answer was lost, so the session is gone) is settled by the stored object itself.
 */
export async function commitOrAdopt(ctx: TransferContext, req: TransferRequest, op: () => Promise<RemoteObject>) {
  const p = ctx.provider;
  try {
    return await withRetry(op, ctx.retry);
  } catch (e) {
    if (!(e instanceof BridgeError) || (e.kind !== 'Conflict' && e.kind !== 'NotFound')) throw e;
    const remote = await withRetry(() => p.stat(req.oid), ctx.retry);
    if (remote && remote.size === req.size) return remote;
    throw e;
  }
}
