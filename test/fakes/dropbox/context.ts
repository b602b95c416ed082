/** What every handler of the fake Dropbox sees: the server state and the current request. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DropboxContentHasher } from '../../../src/hash/dropbox-content-hash.js';
import type { Counters, FaultAction, FaultController } from './faults.js';
import type { OAuth } from './oauth.js';
import type { Account, FileEntry, Namespace, Store } from './store.js';

export interface Session {
  id: string;
  account: string;
  concurrent: boolean;
  createdAt: number;
  expired: boolean;
  closed: boolean;
  /** Body file: sequential sessions append at `size`; concurrent ones write each piece at its offset (sparse). */
  file: string;
  /** Sequential: bytes accepted so far. */
  size: number;
  /** Sequential: content hash state over the accepted bytes. */
  hasher?: DropboxContentHasher;
  /** Sequential: an append or finish is streaming into the file. */
  busy: boolean;
  /** Settles when the append in progress (if any) has finished, truncation included: later calls wait for it. */
  idle?: Promise<unknown>;
  /** Concurrent: SHA-256 of each received 4 MiB block, by block index. */
  blocks: Map<number, Buffer>;
  /** Concurrent: pieces being received, as block ranges [first, last); `done` settles when each ends. */
  receiving: Set<{ first: number; last: number; done: Promise<void> }>;
  /** Concurrent: total length, known once the `close: true` piece arrived. */
  end?: number;
}

export interface TempLink {
  entry: FileEntry;
  expiresAt: number;
  expired: boolean;
}

export interface State {
  store: Store;
  oauth: OAuth;
  faults: FaultController;
  counters: Counters;
  sessions: Map<string, Session>;
  links: Map<string, TempLink>;
  clock: () => number;
  /** Per-response bandwidth cap on download bodies (bytes/s); 0 = none. */
  throttle: number;
  /** Per-request bandwidth cap on upload bodies (bytes/s); 0 = none. */
  uploadThrottle: number;
  /** https://localhost:PORT: the temporary-link host. */
  linkBase: string;
  /** Largest session (file) in bytes: appends beyond it fail with too_large. */
  sessionMax: number;
  /** close() was called: requests cut short are expected, not worth a log line. */
  closing: boolean;
}

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  /** Counter and fault key: the URL path ('/2/files/upload'), or '/link/*' for temporary links. */
  routeKey: string;
  /** Dropbox function name ('files/upload'), used in 400 messages. */
  fn: string;
  fault?: FaultAction;
  account?: Account;
  /** The bearer token of the call. */
  token?: string;
  /** Namespace that paths are relative to (home, or the Dropbox-API-Path-Root one). */
  root?: Namespace;
  /** Where body bytes count besides the route: a target path_lower and/or a session id. */
  countPath?: string;
  countSession?: string;
}
