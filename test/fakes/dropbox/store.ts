/** Accounts, namespaces and committed files of the fake Dropbox; file bodies live as immutable blob files. */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dropboxContentHash } from '../../../src/hash/dropbox-content-hash.js';
import { dropboxTime, type Json, randomToken } from './util.js';

export interface Account {
  name: string;
  accountId: string;
  uid: string;
  homeNs: string;
  /** The root namespace: the home one, or a team space's root (its home folder is then mounted in it). */
  rootNs: string;
  /** In a team space: where the home folder sits in the team root (`/<display name>`). */
  homePath?: string;
  email: string;
}

export interface FileEntry {
  ns: string;
  key: string; // path_lower within the namespace
  display: string;
  id: string;
  rev: string;
  size: number;
  hash: string;
  blob: string; // file on disk, never modified once written (except by `corrupt`)
  serverModified: number;
  clientModified?: string;
}

export interface Namespace {
  id: string;
  name: string;
  shared: boolean;
  files: Map<string, FileEntry>;
}

/** Bytes on disk plus what the server knows about them. */
export interface Blob {
  file: string;
  size: number;
  hash: string;
}

export interface CommitOptions {
  mode: 'add' | 'overwrite' | 'update';
  rev?: string;
  autorename: boolean;
  strictConflict: boolean;
  clientModified?: string;
}

/** A WriteError value (files.stone), e.g. `{".tag":"conflict","conflict":{".tag":"file"}}`. */
export type WriteError = Json;

/** Result of resolving a path argument: a namespace and a key in it, or a lookup error. */
export type Resolved = { ns: Namespace; key: string; display: string } | { error: 'malformed_path' | 'not_found' };

export const DEFAULT_ACCOUNT = 'default';

export class Store {
  readonly accounts = new Map<string, Account>();
  readonly namespaces = new Map<string, Namespace>();
  private nextNs = 1_000_001;
  private revSeq = 0;

  constructor(
    readonly dataDir: string,
    readonly clock: () => number,
    readonly allocated: number,
  ) {}

  /** The account with this name, created on first use with its home namespace. */
  account(name = DEFAULT_ACCOUNT): Account {
    let a = this.accounts.get(name);
    if (!a) {
      const ns = this.newNamespace(`home of ${name}`, false);
      a = {
        name,
        accountId: 'dbid:AA' + randomToken(30).replace(/[-_]/g, 'x').slice(0, 40),
        uid: String(100_000 + this.accounts.size),
        homeNs: ns.id,
        rootNs: ns.id,
        email: `${name}@example.com`,
      };
      this.accounts.set(name, a);
    }
    return a;
  }

  /** A shared namespace every account may address with `Dropbox-API-Path-Root`; returns its id. */
  createSharedNamespace(name: string): string {
    return this.newNamespace(name, true).id;
  }

  /** account → shared folders mounted in its home, each at its own path (members see them at different places). */
  private readonly mounts = new Map<string, { key: string; display: string; ns: string }[]>();

  /** Mounts shared namespace `nsId` in `account`'s home at `path` (like accepting a shared-folder invitation). */
  mount(account: string, path: string, nsId: string): void {
    const list = this.mounts.get(account) ?? [];
    list.push({ key: path.toLowerCase(), display: path, ns: nsId });
    this.mounts.set(account, list);
  }

  /** The mount whose mount point is exactly `path` in `root` (the account's home, or its team root), if any. */
  mountAt(a: Account, path: string, root?: Namespace): { key: string; display: string; ns: string } | undefined {
    const list = !root || root.id === a.homeNs ? this.mounts.get(a.name) : this.nsMounts.get(root.id);
    return list?.find((m) => m.key === path.toLowerCase());
  }

  /**
   * Team spaces (Dropbox's team files guide): one root namespace per team that holds each member's home folder
   * (at `/<display name>`) and the team folders (namespaces of their own), the same for every member. A member's
   * root_namespace_id is then the team root, not its home; paths without Dropbox-API-Path-Root stay relative to
   * the home folder, so team folders are reached only with `{".tag": "root", "root": <team root>}`.
   */
  private readonly nsMounts = new Map<string, { key: string; display: string; ns: string }[]>();

  createTeamSpace(name: string): string {
    return this.newNamespace(`team space ${name}`, false).id;
  }

  joinTeamSpace(account: string, rootNs: string, displayName: string): void {
    const a = this.account(account);
    a.rootNs = rootNs;
    a.homePath = `/${displayName}`;
    this.mountIn(rootNs, a.homePath, a.homeNs);
  }

  /** Leaves the team space: the home folder is the root again (Dropbox: a changed root_namespace_id). */
  leaveTeamSpace(account: string): void {
    const a = this.account(account);
    a.rootNs = a.homeNs;
    a.homePath = undefined;
  }

  /** A team folder in a team space: its own namespace, mounted at `/<name>` of the team root. */
  createTeamFolder(rootNs: string, name: string): string {
    const ns = this.newNamespace(name, false);
    this.mountIn(rootNs, `/${name}`, ns.id);
    return ns.id;
  }

  private mountIn(rootNs: string, path: string, nsId: string): void {
    const list = this.nsMounts.get(rootNs) ?? [];
    list.push({ key: path.toLowerCase(), display: path, ns: nsId });
    this.nsMounts.set(rootNs, list);
  }

  private newNamespace(name: string, shared: boolean): Namespace {
    const ns: Namespace = { id: String(this.nextNs++), name, shared, files: new Map() };
    this.namespaces.set(ns.id, ns);
    return ns;
  }

  /** `root`: the namespace paths are relative to; a team root opens the team's namespaces, the home does not. */
  canAccess(a: Account, nsId: string, root?: Namespace): boolean {
    const ns = this.namespaces.get(nsId);
    if (!ns) return false;
    if (ns.shared || ns.id === a.homeNs) return true;
    if (!root || root.id !== a.rootNs || a.rootNs === a.homeNs) return false;
    return ns.id === a.rootNs || !!this.nsMounts.get(a.rootNs)?.some((m) => m.ns === ns.id);
  }

  home(a: Account): Namespace {
    return this.namespaces.get(a.homeNs)!;
  }

  /** A fresh path under dataDir/<dir> for a body file. */
  newFile(dir: 'blobs' | 'sessions' | 'tmp'): string {
    return join(this.dataDir, dir, randomToken(18));
  }

  /**
   * Resolves a path argument relative to `root`: `/a/b`, `ns:<id>[/a/b]`, and for reads `id:…` and `rev:…`.
   * Paths are case-insensitive; empty components, `.`, `..` and a trailing slash are malformed.
   */
  resolve(a: Account, root: Namespace, path: string, allowRoot = false): Resolved {
    let ns = root;
    let p = path;
    const nsm = /^ns:([0-9]+)(\/.*)?$/s.exec(p);
    if (nsm) {
      if (!this.canAccess(a, nsm[1]!, root)) return { error: 'not_found' };
      ns = this.namespaces.get(nsm[1]!)!;
      p = nsm[2] ?? '';
    } else if (p.startsWith('id:') || p.startsWith('rev:')) {
      const e = this.findBy(a, root, p.startsWith('id:') ? 'id' : 'rev', p.startsWith('id:') ? p : p.slice(4));
      return e ? { ns: this.namespaces.get(e.ns)!, key: e.key, display: e.display } : { error: 'not_found' };
    }
    if (!nsm) {
      // Paths inside a mounted folder (a shared folder in the home; a member folder or team folder in a team
      // root) live in that folder's namespace.
      const list = ns === this.home(a) ? this.mounts.get(a.name) : this.nsMounts.get(ns.id);
      const m = list?.find((x) => p.toLowerCase().startsWith(`${x.key}/`));
      if (m) {
        ns = this.namespaces.get(m.ns)!;
        p = p.slice(m.key.length);
      }
    }
    if (p === '') return allowRoot ? { ns, key: '', display: '' } : { error: 'malformed_path' };
    const parts = p.split('/');
    if (parts[0] !== '' || parts.slice(1).some((c) => c === '' || c === '.' || c === '..')) {
      return { error: 'malformed_path' };
    }
    return { ns, key: p.toLowerCase(), display: p };
  }

  private findBy(a: Account, root: Namespace, field: 'id' | 'rev', value: string): FileEntry | undefined {
    const spaces = [root, ...[...this.namespaces.values()].filter((n) => n !== root && this.canAccess(a, n.id, root))];
    for (const ns of spaces) for (const e of ns.files.values()) if (e[field] === value) return e;
    return undefined;
  }

  /** Folders are implicit: one exists where some file lives below it. Returns its display path. */
  folderAt(ns: Namespace, key: string): string | undefined {
    if (key === '') return '';
    const prefix = key + '/';
    for (const e of ns.files.values()) {
      if (e.key.startsWith(prefix)) return e.display.slice(0, key.length);
    }
    return undefined;
  }

  /** Bytes stored in the namespaces an account owns (its home). */
  used(a: Account): number {
    let n = 0;
    for (const e of this.home(a).files.values()) n += e.size;
    return n;
  }

  /**
   * Writes `blob` at `key` following WriteMode rules (files.stone): identical content is a no-op; `add` conflicts
   * with different content; `overwrite` replaces; `update` replaces only the given rev. On a write the blob file is
   * moved into the store (`adopted`); otherwise the caller still owns it.
   */
  commit(
    a: Account,
    ns: Namespace,
    key: string,
    display: string,
    blob: Blob,
    o: CommitOptions,
  ): { entry: FileEntry; adopted: boolean } | { error: WriteError } {
    const parts = key.split('/');
    for (let i = 2; i < parts.length; i++) {
      if (ns.files.has(parts.slice(0, i).join('/'))) return { error: conflict('file_ancestor') };
    }
    let target = { key, display };
    const existing = ns.files.get(key);
    let clash: 'file' | 'folder' | undefined;
    if (this.folderAt(ns, key) !== undefined) clash = 'folder';
    else if (existing) {
      if (existing.hash === blob.hash && existing.size === blob.size && !o.strictConflict) {
        return { entry: existing, adopted: false };
      }
      if (o.mode === 'add' || (o.mode === 'update' && existing.rev !== o.rev)) clash = 'file';
    } else if (o.mode === 'update' && o.strictConflict) clash = 'file';
    if (clash) {
      if (!o.autorename) return { error: conflict(clash) };
      target = this.freeName(ns, key, display, o.mode === 'update' ? 'conflicted copy' : undefined);
    }
    const old = ns.files.get(target.key);
    if (ns.id === a.homeNs) {
      if (this.used(a) - (old?.size ?? 0) + blob.size > this.allocated)
        return { error: { '.tag': 'insufficient_space' } };
    }
    const file = this.newFile('blobs');
    renameSync(blob.file, file);
    const entry: FileEntry = {
      ns: ns.id,
      key: target.key,
      display: old?.display ?? target.display,
      id: old?.id ?? 'id:' + randomToken(16).slice(0, 22),
      rev: this.newRev(),
      size: blob.size,
      hash: blob.hash,
      blob: file,
      serverModified: this.clock(),
      clientModified: o.clientModified,
    };
    ns.files.set(target.key, entry);
    if (old) rmSync(old.blob, { force: true }); // open downloads keep reading the unlinked inode
    return { entry, adopted: true };
  }

  /** "document.txt" → "document (1).txt" (add/overwrite) or "document (conflicted copy).txt" (update). */
  private freeName(ns: Namespace, key: string, display: string, suffix?: string) {
    const slash = display.lastIndexOf('/');
    const name = display.slice(slash + 1);
    const dot = name.lastIndexOf('.') > 0 ? name.lastIndexOf('.') : name.length;
    for (let i = 1; ; i++) {
      const tag = suffix ? (i === 1 ? ` (${suffix})` : ` (${suffix} ${i})`) : ` (${i})`;
      const d = display.slice(0, slash + 1) + name.slice(0, dot) + tag + name.slice(dot);
      const k = d.toLowerCase();
      if (!ns.files.has(k) && this.folderAt(ns, k) === undefined) return { key: k, display: d };
      if (i > 10_000) return { key, display };
    }
  }

  private newRev(): string {
    // Rev: ≥ 9 lowercase hex digits (files.stone `alias Rev`); unique and increasing here.
    return (
      (0x15f0000000 + ++this.revSeq).toString(16) +
      randomToken(3)
        .replace(/[^0-9a-f]/g, '0')
        .slice(0, 3)
    );
  }

  remove(ns: Namespace, key: string): boolean {
    const e = ns.files.get(key);
    if (!e) return false;
    ns.files.delete(key);
    rmSync(e.blob, { force: true });
    return true;
  }

  /** In-process seeding: writes `data` at `path` (overwrite mode). */
  putBuffer(a: Account, ns: Namespace, path: string, data: Buffer): FileEntry {
    const r = this.resolve(a, ns, path);
    if ('error' in r) throw new Error(`fake dropbox: bad path ${path}`);
    const tmp = this.newFile('tmp');
    writeFileSync(tmp, data);
    const blob = { file: tmp, size: data.length, hash: dropboxContentHash(data) };
    const res = this.commit(a, r.ns, r.key, r.display, blob, {
      mode: 'overwrite',
      autorename: false,
      strictConflict: false,
    });
    if ('error' in res) {
      rmSync(tmp, { force: true });
      throw new Error(`fake dropbox: cannot write ${path}: ${JSON.stringify(res.error)}`);
    }
    if (!res.adopted) rmSync(tmp, { force: true });
    return res.entry;
  }

  getBuffer(e: FileEntry): Buffer {
    return readFileSync(e.blob);
  }
}

const conflict = (what: 'file' | 'folder' | 'file_ancestor'): WriteError => ({
  '.tag': 'conflict',
  conflict: { '.tag': what },
});

/** FileMetadata as Dropbox serialises it; `.tag` only where the declared type is the polymorphic Metadata. */
export function fileMetadata(e: FileEntry, tagged: boolean): Json {
  const name = e.display.slice(e.display.lastIndexOf('/') + 1);
  const server = dropboxTime(e.serverModified);
  return {
    ...(tagged ? { '.tag': 'file' } : {}),
    name,
    path_lower: e.key,
    path_display: e.display,
    id: e.id,
    client_modified: e.clientModified ?? server,
    server_modified: server,
    rev: e.rev,
    size: e.size,
    is_downloadable: true,
    content_hash: e.hash,
  };
}

/** FolderMetadata of an implicit folder; its id is derived from namespace and path so it stays stable. */
export function folderMetadata(ns: Namespace, key: string, display: string): Json {
  const id = 'id:' + createHash('sha256').update(`${ns.id}:${key}`).digest('base64url').slice(0, 22);
  return {
    '.tag': 'folder',
    name: display.slice(display.lastIndexOf('/') + 1),
    path_lower: key,
    path_display: display,
    id,
  };
}

/** RootInfo (common.stone) of users/get_current_account and of PathRootError.invalid_root. */
export function rootInfo(a: Account): Json {
  return a.rootNs === a.homeNs
    ? { '.tag': 'user', root_namespace_id: a.rootNs, home_namespace_id: a.homeNs }
    : { '.tag': 'team', root_namespace_id: a.rootNs, home_namespace_id: a.homeNs, home_path: a.homePath };
}
