/** What the Dropbox API allows, as the provider contract's capabilities (docs/providers.md "Dropbox"). */
import type { Capabilities } from '../types.js';

const MiB = 1024 * 1024;

export const caps = {
  chunkAlign: 4 * MiB, // content_hash blocks, and the concurrent-session rule
  chunkMax: 148 * MiB, // a request carries at most 150 MiB
  chunkDefault: 48 * MiB, // rclone measured ≈ 91 % of top speed at 48 MiB (128 MiB = 100 %), and a lost chunk costs < 48 MiB
  simpleUploadMax: 8 * MiB, // one request, no session; re-sent whole after a failure, so keep it small
  serverHash: 'dropbox',
  sessionsSurviveRestart: true,
  sessionFromOid: false,
  sessionLifetimeMs: 7 * 24 * 3600_000, // upload sessions live 7 days
  parallelRanges: true,
  concurrentSessions: true,
  needsKeychain: true,
  // "The maximum size of a file one can upload to an upload session is 350 GB" (files.stone, upload_session/*;
  // beyond it appends fail with too_large). Some newer error texts say 2^41 − 2^22 B: the smaller one is kept.
  maxObjectSize: 350e9,
} as const satisfies Capabilities;
