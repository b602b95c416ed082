/**
 * The provider contract: a few stateless primitives plus capabilities as data.
 * Providers know their API; they never loop over chunks, retry, sleep, hash or report progress — src/bridge does.
 * See docs/architecture.md "The provider contract".
 */
import type { Readable } from 'node:stream';
import type { BridgeConfig } from '../config/index.js';
import type { ServerHashKind } from '../hash/index.js';
import type { Logger } from '../log.js';
import type { ProviderName } from './registry.js';

export type { ServerHashKind };

export interface Capabilities {
  /** Non-final upload chunks must be a multiple of this many bytes. */
  readonly chunkAlign: number;
  /** Largest chunk one request may carry. */
  readonly chunkMax: number;
  /** Chunk size used when lfs-bridge.chunksize is not set (measured; see BENCHMARKS.md). */
  readonly chunkDefault: number;
  /** Objects up to this size go in one putSmall request instead of a session. */
  readonly simpleUploadMax: number;
  readonly serverHash: ServerHashKind;
  /** A session can be continued by another process: the bridge keeps its handle in a keychain resume record. */
  readonly sessionsSurviveRestart: boolean;
  /** The session handle follows from the oid alone (local: the partial file), so no resume record is kept. */
  readonly sessionFromOid: boolean;
  /** Sessions die after this long (ms); older resume records are dropped. */
  readonly sessionLifetimeMs?: number;
  /** Ranged reads may run in parallel on one object. */
  readonly parallelRanges: boolean;
  /**
   * Upload sessions may take pieces in any order, several at once (Dropbox's concurrent sessions): every piece but
   * the one that ends the object is a multiple of chunkAlign, and that one is sent last, marked `last`.
   */
  readonly concurrentSessions?: boolean;
  /**
   * The request budget the provider publishes for one client (e.g. Google Drive's per-client queries per second):
   * every agent process of the account takes its requests from it (src/bridge/pace.ts). None when undefined.
   */
  readonly requestsPerSecond?: number;
  /** Needs the OS keychain (tokens, session URLs). `local` does not. */
  readonly needsKeychain: boolean;
  /** The largest object the provider stores (bytes); larger ones are refused before anything is sent. None: no limit. */
  readonly maxObjectSize?: number;
}

export interface RemoteObject {
  size: number;
  /** In the provider's `serverHash` kind, when it reports one. */
  hash?: string;
}

/** What the server says after a chunk. */
export interface ChunkResult {
  /** The committed offset after the chunk (it may be less than offset+length: the server keeps what it keeps). */
  offset: number;
  /**
   * Present when this chunk created the object (Google Drive's last PUT, OneDrive's last fragment): what was stored.
   * The session is gone after it, and finishUpload is not called.
   */
  committed?: RemoteObject;
}

/** A provider's upload-session handle. JSON-serialisable; may be a bearer secret (keychain only, never logged). */
export type UploadSession = Record<string, unknown>;

/**
 * Where a stored object's bytes are read: a URL that src/http reads with ranged GETs (and checks their answers:
 * http/ranged-read.ts), or a file on this machine.
 */
export type ReadTarget =
  | {
      kind: 'url';
      url: string;
      headers?: Record<string, string>;
      /** The error for a non-2xx answer (the provider may also forget a dead link here); the body is discarded. */
      onError(status: number, retryAfter: string | undefined): Error;
    }
  | { kind: 'file'; path: string };

export interface Provider {
  readonly name: ProviderName;
  readonly caps: Capabilities;
  /** Short stable id of the destination root, part of resume keys (the same oid may go to two roots). */
  readonly destination: string;
  /** Account the provider acts for ('' for local). */
  readonly account: string;

  stat(oid: string, signal?: AbortSignal): Promise<RemoteObject | null>;
  /** One-request upload for objects up to caps.simpleUploadMax; the body errors if the source fails verification. */
  putSmall(oid: string, size: number, body: Readable | Buffer, signal?: AbortSignal): Promise<RemoteObject>;

  /** `concurrent` (with caps.concurrentSessions): a session whose pieces may arrive in any order. */
  startUpload(oid: string, size: number, signal?: AbortSignal, opts?: { concurrent?: boolean }): Promise<UploadSession>;
  /**
   * Sends [offset, offset+length) and resolves with the server's committed offset after it, and — where the chunk
   * that ends the object also creates it — what was stored. `last` marks the chunk that ends the object.
   */
  uploadChunk(
    session: UploadSession,
    offset: number,
    length: number,
    body: Readable,
    last: boolean,
    signal?: AbortSignal,
  ): Promise<ChunkResult>;
  /** The server's committed offset; throws NotFound when the session is gone or expired. */
  queryUpload(session: UploadSession, signal?: AbortSignal): Promise<number>;
  /** Commits a session whose bytes are all sent (not called after a chunk that answered `committed`). A Conflict means another writer stored the oid first. */
  finishUpload(session: UploadSession, signal?: AbortSignal): Promise<RemoteObject>;
  abortUpload(session: UploadSession): Promise<void>;

  /**
   * Optional, for stores on this machine's filesystems (`local`): fills a fresh session from a local file with a
   * kernel copy (copy_file_range, reflinks), while the bridge hashes the source beside it and commits only if it
   * matches the oid.
   */
  copyFromFile?(session: UploadSession, src: string, signal?: AbortSignal): Promise<void>;
  /** Optional, likewise: copies the whole stored object to `dest`; the bridge hashes `sourcePath` beside it. */
  copyToFile?(oid: string, dest: string, signal?: AbortSignal): Promise<void>;
  /** With copyToFile: the stored object's path on this machine. */
  sourcePath?(oid: string): string;

  /**
   * Where to read the object from; the bridge reads ranges of it (several at once where caps.parallelRanges) and
   * asks again after an error. NotFound when it is not on the remote.
   */
  readTarget(oid: string, size: number, signal?: AbortSignal): Promise<ReadTarget>;

  /**
   * Deletes the stored object. Used for one thing only: a copy proven wrong (the provider's hash of it is not
   * the hash of the bytes sent), which would otherwise pass for the object on every later push.
   */
  remove?(oid: string): Promise<void>;

  close?(): Promise<void>;
}

export interface PendingUpload {
  oid: string;
  bytesDone: number;
  mtimeMs: number;
  /** Where the partial is, for the user. */
  where: string;
}

export interface ProviderContext {
  config: BridgeConfig;
  env: NodeJS.ProcessEnv;
  log: Logger;
  /** The repository's work-tree top, for relative settings. */
  cwd: string;
}

export interface ProviderModule {
  caps: Capabilities;
  /** Cheap local checks for `init` (no network, no keychain, no SDK import). Throws a Config error. */
  checkInit?(ctx: ProviderContext): Promise<void>;
  create(ctx: ProviderContext): Promise<Provider>;
  /**
   * Setup-time check of a root (may use the network and the login): returns the root to record, e.g. a Dropbox
   * member path inside a shared folder becomes the folder's namespace form, the same for every member.
   */
  resolveRoot?(
    given: string,
    o: {
      env: NodeJS.ProcessEnv;
      account?: string /** The work tree's top, for a root relative to it. */;
      top?: string;
    },
  ): Promise<{ root: string; notes: string[] }>;
  /**
   * Uploads this provider keeps part-way on its own side, for `status` (local: partials in its incoming folder).
   * Cloud providers' sessions are in the keychain's resume records, which `status` reads for every provider.
   */
  pending?(ctx: ProviderContext): Promise<PendingUpload[]>;
  /**
   * What a push will need, tried for real (`setup` refuses, `status` reports): the store can be reached and written,
   * the login works. Leaves nothing behind. Throws an error whose message says what is wrong.
   */
  checkStore?(ctx: ProviderContext): Promise<void>;
  /** Space used and allocated for `status` (network). */
  usage?(o: { env: NodeJS.ProcessEnv; account: string }): Promise<{ used: number; allocated?: number }>;
}
