/** Dropbox API v2 wire types we use (Stone spec files.stone / auth.stone; docs/providers.md "Dropbox"). */

export interface FileMetadata {
  '.tag': 'file';
  name: string;
  id: string;
  path_lower?: string;
  path_display?: string;
  rev: string;
  size: number;
  content_hash?: string;
}

export interface FolderMetadata {
  '.tag': 'folder' | 'deleted';
  name: string;
}

export type Metadata = FileMetadata | FolderMetadata;

export interface CommitInfo {
  path: string;
  mode: 'add';
  autorename: false;
  mute: true;
}

export interface UploadSessionCursor {
  session_id: string;
  offset: number;
}

/** 409 bodies: `error_summary` is a slash path of tags, `error` the union itself. */
export interface ApiErrorBody {
  error_summary?: string;
  error?: {
    '.tag'?: string;
    correct_offset?: number;
    lookup_failed?: { '.tag'?: string; correct_offset?: number };
    reason?: { '.tag'?: string };
    retry_after?: number;
    /** 422 PathRootError.invalid_root: the account's current root. */
    invalid_root?: RootInfo;
  };
}

/** common.stone RootInfo, from users/get_current_account. */
export interface RootInfo {
  '.tag'?: 'user' | 'team';
  root_namespace_id?: string;
  home_namespace_id?: string;
}

/** Dropbox-API-Path-Root for an account whose root is not its home (a team space); undefined otherwise. */
export function rootHeader(info: RootInfo | undefined): string | undefined {
  const root = info?.root_namespace_id;
  if (!root || root === info?.home_namespace_id) return undefined;
  return JSON.stringify({ '.tag': 'root', root });
}

export interface TemporaryLink {
  metadata: FileMetadata;
  link: string;
}

/** Dropbox-API-Arg must be ASCII: JSON with every non-ASCII character as a \uXXXX escape. */
export function apiArg(v: unknown): string {
  return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
