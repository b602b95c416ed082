/** What one agent process hands to upload/download for every object. */
import type { BridgeConfig } from '../config/index.js';
import type { Logger } from '../log.js';
import type { Provider } from '../providers/types.js';
import type { LfsPaths } from './lfsdir.js';
import type { RateLimiter } from './ratelimit.js';
import type { ResumeStore } from './resume.js';
import type { RetryOptions } from './retry.js';

export interface TransferContext {
  provider: Provider;
  config: BridgeConfig;
  log: Logger;
  rate?: RateLimiter;
  /** Upload resume records (keychain, or memory); opened on first need. */
  resume(): Promise<ResumeStore>;
  lfsPaths(): Promise<LfsPaths>;
  /** Directory for cross-process upload locks. */
  lockDir: string;
  retry: RetryOptions;
  now(): number;
  /** The environment requests run with (proxy settings); process.env when absent. */
  env?: NodeJS.ProcessEnv;
}
