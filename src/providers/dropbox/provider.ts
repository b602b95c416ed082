/** The Dropbox provider itself (loaded once objects flow; index.ts stays light for `init`). See index.ts. */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { BridgeError, notFound, transient } from '../../errors.js';
import { endpointFor, type HttpResponse, header, http, rebase, text } from '../../http/index.js';
import { maskInLogs } from '../../log.js';
import { objectKey } from '../layout.js';
import type { Provider, ReadTarget, RemoteObject, UploadSession } from '../types.js';
import {
  type ApiErrorBody,
  apiArg,
  type CommitInfo,
  type FileMetadata,
  type Metadata,
  type RootInfo,
  rootHeader,
  type TemporaryLink,
} from './api.js';
import { caps } from './caps.js';
import { classify, DropboxError } from './errors.js';

const API = 'https://api.dropboxapi.com';
const CONTENT = 'https://content.dropboxapi.com';

interface DropboxSession extends UploadSession {
  sessionId: string;
  path: string;
  size: number;
  /** A concurrent session (pieces in any order; the last one closes it). */
  concurrent?: boolean;
}

export type TokenSource = (forceRefresh: boolean) => Promise<string>;

export class DropboxProvider implements Provider {
  readonly name = 'dropbox' as const;
  readonly caps = caps;
  readonly destination: string;
  private token?: string;
  private tokenStale = false;
  /** A login refused beyond refresh (revoked, logged out): every later call fails with it, without asking again. */
  private refused?: BridgeError;
  private readonly links = new Map<string, { link: string; until: number }>();
  private readonly api: string;
  private readonly content: string;

  constructor(
    readonly account: string,
    readonly root: string,
    private readonly tokens: TokenSource,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    const base = endpointFor('dropbox', env);
    this.api = rebase(API, base);
    this.content = rebase(CONTENT, base);
    this.destination = createHash('sha256').update(root.toLowerCase()).digest('hex').slice(0, 12);
  }

  private path(oid: string): string {
    const root = this.root === '/' ? '' : this.root;
    return `${root}/${objectKey(oid).join('/')}`;
  }

  private async bearer(): Promise<string> {
    if (this.refused) throw this.refused;
    if (!this.token || this.tokenStale) {
      this.token = await this.tokens(this.tokenStale).catch((e) => {
        throw this.refuse(e);
      });
      this.tokenStale = false;
      maskInLogs(this.token);
    }
    return this.token;
  }

  /**
   * files/* calls carry Dropbox-API-Path-Root `{".tag": "root", "root": <root namespace>}` for a team-space member
   * (root_namespace_id ≠ home_namespace_id), as Dropbox's team files guide says: paths are then relative to the
   * team space, as the Dropbox apps show it (team folders beside the member's own folder), and `ns:` paths reach
   * the team's folders. Other accounts send none. Read once per process, from users/get_current_account.
   */
  private rooting?: Promise<string | undefined>;

  private pathRoot(signal?: AbortSignal): Promise<string | undefined> {
    this.rooting ??= this.rpc<{ root_info?: RootInfo }>('users/get_current_account', null, signal).then(
      (a) => rootHeader(a.root_info),
      (e) => {
        this.rooting = undefined;
        throw e;
      },
    );
    return this.rooting;
  }

  private async headers(route: string, extra: Record<string, string>, signal?: AbortSignal) {
    const h: Record<string, string> = { authorization: `Bearer ${await this.bearer()}`, ...extra };
    const root = route.startsWith('files/') ? await this.pathRoot(signal) : undefined;
    if (root) h['dropbox-api-path-root'] = root;
    return h;
  }

  private refuse(e: unknown): unknown {
    if (e instanceof BridgeError && e.kind === 'Auth' && !e.retryable) this.refused ??= e;
    return e;
  }

  /** Maps a non-2xx answer to a DropboxError; an expired token is refreshed before the retry. */
  private async fail(res: HttpResponse, what: string): Promise<never> {
    const body = await text(res);
    if (res.status === 422) {
      // PathRootError: the root namespace changed (joined or left a team): take the one the answer names, retry.
      let e: ApiErrorBody['error'];
      try {
        e = (JSON.parse(body) as ApiErrorBody).error;
      } catch {
        // not JSON: classified below
      }
      if (e?.['.tag'] === 'invalid_root') {
        this.rooting = Promise.resolve(rootHeader(e.invalid_root));
        throw transient(`[dropbox] ${what}: the account's root namespace changed; retrying in the new one`);
      }
    }
    const err = classify(res.status, body, header(res, 'retry-after'), what);
    if (err.kind === 'Auth' && err.retryable) this.tokenStale = true;
    throw this.refuse(err);
  }

  private async rpc<T>(route: string, arg: unknown, signal?: AbortSignal): Promise<T> {
    const res = await http({
      method: 'POST',
      url: `${this.api}/2/${route}`,
      headers: await this.headers(route, { 'content-type': 'application/json' }, signal),
      body: JSON.stringify(arg),
      signal,
      env: this.env,
    });
    if (res.status !== 200) return this.fail(res, route);
    return JSON.parse(await text(res)) as T;
  }

  private async contentCall<T>(
    route: string,
    arg: unknown,
    body: Readable | Buffer,
    length: number,
    signal?: AbortSignal,
  ): Promise<T> {
    const res = await http({
      method: 'POST',
      url: `${this.content}/2/${route}`,
      headers: await this.headers(
        route,
        {
          'content-type': 'application/octet-stream',
          'content-length': String(length),
          'dropbox-api-arg': apiArg(arg),
        },
        signal,
      ),
      body,
      signal,
      env: this.env,
    });
    if (res.status !== 200) return this.fail(res, route);
    return JSON.parse(await text(res)) as T;
  }

  spaceUsage(signal?: AbortSignal) {
    return this.rpc<{ used: number; allocation?: { allocated?: number } }>('users/get_space_usage', null, signal);
  }

  /** Metadata of any path (setup's shared-folder check); null when absent. */
  async metadata(path: string, signal?: AbortSignal): Promise<(Metadata & { shared_folder_id?: string }) | null> {
    try {
      return await this.rpc('files/get_metadata', { path }, signal);
    } catch (e) {
      if (e instanceof DropboxError && e.kind === 'NotFound') return null;
      throw e;
    }
  }

  async stat(oid: string, signal?: AbortSignal): Promise<RemoteObject | null> {
    try {
      const m = await this.rpc<Metadata>('files/get_metadata', { path: this.path(oid) }, signal);
      if (m['.tag'] !== 'file') return null;
      return { size: m.size, hash: m.content_hash };
    } catch (e) {
      if (e instanceof DropboxError && e.kind === 'NotFound') return null;
      throw e;
    }
  }

  async remove(oid: string): Promise<void> {
    try {
      await this.rpc('files/delete_v2', { path: this.path(oid) });
    } catch (e) {
      if (e instanceof DropboxError && e.kind === 'NotFound') return; // gone already: what we wanted
      throw e;
    }
  }

  private commit(oid: string): CommitInfo {
    return { path: this.path(oid), mode: 'add', autorename: false, mute: true };
  }

  async putSmall(oid: string, size: number, body: Readable | Buffer, signal?: AbortSignal): Promise<RemoteObject> {
    const m = await this.contentCall<FileMetadata>('files/upload', this.commit(oid), body, size, signal);
    return { size: m.size, hash: m.content_hash };
  }

  async startUpload(
    oid: string,
    size: number,
    signal?: AbortSignal,
    opts: { concurrent?: boolean } = {},
  ): Promise<UploadSession> {
    const r = await this.contentCall<{ session_id: string }>(
      'files/upload_session/start',
      opts.concurrent ? { close: false, session_type: { '.tag': 'concurrent' } } : { close: false },
      Buffer.alloc(0),
      0,
      signal,
    );
    maskInLogs(r.session_id);
    const session: DropboxSession = { sessionId: r.session_id, path: this.path(oid), size };
    return opts.concurrent ? { ...session, concurrent: true } : session;
  }

  async uploadChunk(
    session: UploadSession,
    offset: number,
    length: number,
    body: Readable,
    last: boolean,
    signal?: AbortSignal,
  ) {
    const s = session as DropboxSession;
    // A sequential session is never closed early (it can still be asked for its offset; finish closes it). A
    // concurrent one learns where the object ends from the piece that closes it.
    try {
      await this.contentCall(
        'files/upload_session/append_v2',
        { cursor: { session_id: s.sessionId, offset }, close: Boolean(s.concurrent && last) },
        body,
        length,
        signal,
      );
    } catch (e) {
      if (s.concurrent && e instanceof DropboxError && e.correctOffset !== undefined) {
        return { offset: this.pieceHeld(e.correctOffset, offset, length, body) };
      }
      throw e;
    }
    return { offset: offset + length };
  }

  /**
   * A piece of a concurrent session refused with incorrect_offset: the session holds data there already (a piece
   * sent again after its answer was lost, or after a crash before its record was saved). Pieces are cut the same
   * way every time, so data over its first block is this piece: held up to `correctOffset`, the piece counts as
   * sent (the commit still checks the stored content_hash against ours). Held only in part, the session is not one
   * this upload made sense of: NotFound, and a fresh session is started.
   */
  private pieceHeld(correctOffset: number, offset: number, length: number, body: Readable): number {
    body.destroy();
    if (correctOffset >= offset + length) return offset + length;
    throw new DropboxError(
      'NotFound',
      false,
      `upload_session/append_v2: the concurrent session holds part of the piece at ${offset} (up to ${correctOffset}): starting a new session`,
      'incorrect_offset',
      {},
    );
  }

  /** Dropbox has no status call: a zero-byte append at offset 0 either succeeds (nothing stored) or names the offset. */
  async queryUpload(session: UploadSession, signal?: AbortSignal): Promise<number> {
    const s = session as DropboxSession;
    try {
      await this.contentCall(
        'files/upload_session/append_v2',
        { cursor: { session_id: s.sessionId, offset: 0 }, close: false },
        Buffer.alloc(0),
        0,
        signal,
      );
      return 0;
    } catch (e) {
      if (e instanceof DropboxError && e.correctOffset !== undefined) return e.correctOffset;
      throw e;
    }
  }

  async finishUpload(session: UploadSession, signal?: AbortSignal): Promise<RemoteObject> {
    const s = session as DropboxSession;
    const m = await this.contentCall<FileMetadata>(
      'files/upload_session/finish',
      {
        cursor: { session_id: s.sessionId, offset: s.size },
        commit: { path: s.path, mode: 'add', autorename: false, mute: true },
      },
      Buffer.alloc(0),
      0,
      signal,
    );
    return { size: m.size, hash: m.content_hash };
  }

  /** Dropbox sessions cannot be cancelled; they expire after 7 days. */
  async abortUpload(): Promise<void> {}

  private async link(oid: string, signal?: AbortSignal): Promise<string> {
    const cached = this.links.get(oid);
    if (cached && cached.until > Date.now()) return cached.link;
    const r = await this.rpc<TemporaryLink>('files/get_temporary_link', { path: this.path(oid) }, signal).catch((e) => {
      if (e instanceof DropboxError && e.kind === 'NotFound') throw notFound(`[dropbox] ${oid} is not in ${this.root}`);
      throw e;
    });
    maskInLogs(r.link);
    this.links.set(oid, { link: r.link, until: Date.now() + 3.5 * 3600_000 }); // links live 4 h; in memory only
    return r.link;
  }

  /** The object's temporary link (cached per process); src/http reads ranges of it (http/ranged-read.ts). */
  async readTarget(oid: string, _size: number, signal?: AbortSignal): Promise<ReadTarget> {
    return {
      kind: 'url',
      url: await this.link(oid, signal),
      onError: (status, retryAfter) => {
        if ([401, 403, 404, 410].includes(status)) {
          this.links.delete(oid); // expired or revoked link: derive a fresh one on the retry
          return transient(`[dropbox] temporary link answered ${status}`);
        }
        return classify(status, '', retryAfter, 'download');
      },
    };
  }

  async close(): Promise<void> {
    this.links.clear();
  }
}

export async function connect(
  ctx: { env: NodeJS.ProcessEnv; account?: string },
  root: string,
): Promise<DropboxProvider> {
  const { getAccessToken } = await import('../../oauth/index.js');
  const first = await getAccessToken('dropbox', { env: ctx.env, account: ctx.account });
  let current: string | undefined = first.token;
  const tokens: TokenSource = async (force) => {
    if (current && !force) return current;
    current = undefined;
    return (await getAccessToken('dropbox', { env: ctx.env, account: first.account, forceRefresh: force })).token;
  };
  return new DropboxProvider(first.account, root, tokens, ctx.env);
}
