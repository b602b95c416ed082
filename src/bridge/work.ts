/**
 * Everything the agent needs only once objects flow: loaded after `init` has been answered (git-lfs starts its
 * workers one after another, so each module on the init path is paid N times in series).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BridgeConfig } from '../config/index.js';
import { diskThread, THREAD_MIN } from '../io/disk-thread.js';
import { stateDir } from '../keychain/index.js';
import type { Logger } from '../log.js';
import { loadProviderModule, providerEntry } from '../providers/index.js';
import type { ProviderContext } from '../providers/types.js';
import type { TransferContext } from './context.js';
import { findLfsPaths, type LfsPaths } from './lfsdir.js';
import { paceDir, sharedPace } from './pace.js';
import type { TransferRequest } from './protocol.js';
import { RateLimiter } from './ratelimit.js';
import { MemoryResumeStore, type ResumeStore, SecretResumeStore } from './resume.js';
import type { RetryOptions } from './retry.js';

export { download } from './download.js';
export { upload } from './upload.js';

export interface WorkOptions {
  config: BridgeConfig;
  env: NodeJS.ProcessEnv;
  cwd: string;
  log: Logger;
  retry?: RetryOptions;
}

/**
 * Called with each request before the transfer context is awaited: a large object over the network will use the
 * disk thread, whose start then overlaps the opening of the provider (its modules, its token) instead of
 * following it. (A store on this machine copies in the kernel and hashes in this thread: no disk thread.)
 */
export function prepare(req: TransferRequest, config: BridgeConfig): void {
  if (req.size >= THREAD_MIN && providerEntry(config.provider).network) diskThread();
}

/** Opens the provider (its SDK, its login) and wires what upload/download share for this process. */
export async function createTransferContext(o: WorkOptions): Promise<TransferContext> {
  const { config, env, cwd, log } = o;
  const mod = await loadProviderModule(config.provider);
  const providerCtx: ProviderContext = { config, env, log, cwd };
  const provider = await mod.create(providerCtx);
  const lockDir = join(stateDir(env), 'locks');
  await mkdir(lockDir, { recursive: true });
  let lfs: Promise<LfsPaths> | undefined;
  let resume: Promise<ResumeStore> | undefined;
  return {
    provider,
    config,
    log,
    rate: config.maxRate ? new RateLimiter(config.maxRate) : undefined,
    resume: () => {
      resume ??= openResumeStore(env, log);
      return resume;
    },
    lfsPaths: () => {
      lfs ??= findLfsPaths(cwd);
      return lfs;
    },
    lockDir,
    retry: {
      pace: sharedPace(paceDir(join(stateDir(env), 'pace'), provider.name, provider.account), {
        requestsPerSecond: provider.caps.requestsPerSecond,
        log,
      }),
      ...o.retry,
      onRetry: (e, attempt, wait) =>
        log.info(
          `retry ${attempt} in ${wait} ms after: ${e.message}${wait >= 60_000 ? ' (server asked to wait)' : ''}`,
        ),
    },
    now: Date.now,
    env,
  };
}

async function openResumeStore(env: NodeJS.ProcessEnv, log: Logger): Promise<ResumeStore> {
  const { openSecretStore } = await import('../keychain/index.js');
  try {
    return new SecretResumeStore(await openSecretStore({ env }));
  } catch (e) {
    log.error(`${(e as Error).message}; interrupted uploads resume only within this process`);
    return new MemoryResumeStore();
  }
}
