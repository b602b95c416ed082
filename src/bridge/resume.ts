/**
 * Upload resume records: the session handle is a bearer capability, so the records live in
 * the keychain next to the tokens. The server stays the truth about the offset; the record is a hint.
 * Without a keychain (LFS_BRIDGE_<P>_TOKEN in CI) records live in memory: resume within one process only.
 * See docs/architecture.md "Resume state".
 */
import type { SecretStore } from '../keychain/index.js';
import type { UploadSession } from '../providers/types.js';

export interface ResumeRecord {
  provider: string;
  account: string;
  destination: string;
  oid: string;
  size: number;
  chunkSize: number;
  session: UploadSession;
  createdAt: number;
  /** Committed offset as last seen (bytes acknowledged, for pieces): for `status` only. */
  offset: number;
  /**
   * A session of pieces sent in any order (upload-pieces.ts): start offsets of the pieces the server acknowledged;
   * `chunkSize` is then the piece size the object was cut by.
   */
  pieces?: number[];
}

export const resumeKey = (r: Pick<ResumeRecord, 'provider' | 'account' | 'destination' | 'oid'>) =>
  `resume:${r.provider}:${r.account}:${r.destination}:${r.oid}`;

export interface ResumeStore {
  get(key: string): Promise<ResumeRecord | null>;
  put(rec: ResumeRecord): Promise<void>;
  delete(key: string): Promise<void>;
  list(): Promise<ResumeRecord[]>;
}

export class SecretResumeStore implements ResumeStore {
  constructor(private readonly secrets: SecretStore) {}
  async get(key: string) {
    const s = await this.secrets.get(key);
    if (!s) return null;
    try {
      return JSON.parse(s) as ResumeRecord;
    } catch {
      await this.secrets.delete(key); // unreadable: worthless as a hint
      return null;
    }
  }
  async put(rec: ResumeRecord) {
    await this.secrets.set(resumeKey(rec), JSON.stringify(rec));
  }
  async delete(key: string) {
    await this.secrets.delete(key);
  }
  async list() {
    const out: ResumeRecord[] = [];
    for (const { secret } of await this.secrets.list('resume:')) {
      try {
        out.push(JSON.parse(secret));
      } catch {
        // skip unreadable records
      }
    }
    return out;
  }
}

export class MemoryResumeStore implements ResumeStore {
  private readonly map = new Map<string, ResumeRecord>();
  async get(key: string) {
    return this.map.get(key) ?? null;
  }
  async put(rec: ResumeRecord) {
    this.map.set(resumeKey(rec), rec);
  }
  async delete(key: string) {
    this.map.delete(key);
  }
  async list() {
    return [...this.map.values()];
  }
}
