/**
 * The request loop of `lfs-bridge transfer`: reads stdin continuously, serves requests
 * strictly in order, answers every object with exactly one `complete`, and never lets a failure escape as
 * anything but that object's error. stdout carries protocol JSON only.
 * See docs/protocol.md "Serving requests".
 */

import { createInterface } from 'node:readline';
import { type BridgeConfig, loadConfig } from '../config/index.js';
import { BridgeError, toBridgeError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { loadProviderModule } from '../providers/index.js';
import type { ProviderContext } from '../providers/types.js';
import type { TransferContext } from './context.js';
import { ProgressMeter } from './progress.js';
import {
  type Incoming,
  type InitRequest,
  MessageWriter,
  parseLine,
  type TransferRequest,
  wireError,
} from './protocol.js';
import type { RetryOptions } from './retry.js';

/** The transfer machinery, loaded on first need (see work.ts). */
const loadWork = () => import('./work.js');

export interface AgentDeps {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  log?: Logger;
  retry?: RetryOptions;
  /** Test seam: progress throttle interval. */
  progressIntervalMs?: number;
}

/** Exit code: 0 after `terminate`, 1 when stdin ended without it (git-lfs went away; resume state is kept). */
export async function runAgent(deps: AgentDeps): Promise<number> {
  const env = deps.env ?? process.env;
  const cwd = deps.cwd ?? process.cwd();
  const log = deps.log ?? createLogger('transfer', env);
  const out = new MessageWriter(deps.stdout);
  const queue: Incoming[] = [];
  let wake: (() => void) | undefined;
  let ended = false;

  const rl = createInterface({ input: deps.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  rl.on('line', (line) => {
    const msg = parseLine(line);
    if (!msg) return;
    queue.push(msg);
    wake?.();
  });
  rl.on('close', () => {
    ended = true;
    wake?.();
  });

  const session = new AgentSession(out, log, env, cwd, deps);
  for (;;) {
    const msg = queue.shift();
    if (!msg) {
      if (ended) {
        log.error('stdin closed without terminate: git-lfs went away; partial transfers are kept for resume');
        await session.close();
        await out.drain();
        return 1;
      }
      await new Promise<void>((r) => {
        wake = r;
      });
      wake = undefined;
      continue;
    }
    if (msg.event === 'terminate') {
      rl.close();
      await session.close();
      await out.drain();
      return 0;
    }
    await session.handle(msg);
  }
}

class AgentSession {
  private init?: InitRequest;
  private config?: BridgeConfig;
  private ctx?: Promise<TransferContext>;

  constructor(
    private readonly out: MessageWriter,
    private readonly log: Logger,
    private readonly env: NodeJS.ProcessEnv,
    private readonly cwd: string,
    private readonly deps: AgentDeps,
  ) {}

  async handle(msg: Incoming): Promise<void> {
    switch (msg.event) {
      case 'init':
        return this.onInit(msg);
      case 'bad':
        if (msg.oid) this.fail(msg.oid, msg.error);
        else if (msg.init) this.out.send({ error: wireError(msg.error) });
        else this.log.error(`ignored: ${msg.error.message}`);
        return;
      case 'upload':
      case 'download':
        return this.onTransfer(msg);
    }
  }

  /** Answers fast: git-lfs starts workers one after another. Local checks only — no network, keychain or SDK. */
  private async onInit(msg: InitRequest): Promise<void> {
    try {
      const config = await loadConfig(this.cwd);
      const mod = await loadProviderModule(config.provider);
      await mod.checkInit?.(this.providerContext(config));
      this.init = msg;
      this.config = config;
      this.log.debug(`init ${msg.operation} remote=${msg.remote} provider=${config.provider}`);
      this.out.send({});
      setImmediate(() => void loadWork().catch(() => {})); // warm up while git-lfs starts the next worker
    } catch (e) {
      const err = toBridgeError(e);
      this.log.error(`init failed: ${err.message}`);
      this.out.send({ error: wireError(err) });
    }
  }

  private providerContext(config: BridgeConfig): ProviderContext {
    return { config, env: this.env, log: this.log, cwd: this.cwd };
  }

  private transferContext(): Promise<TransferContext> {
    const config = this.config as BridgeConfig;
    this.ctx ??= loadWork().then((w) =>
      w.createTransferContext({ config, env: this.env, cwd: this.cwd, log: this.log, retry: this.deps.retry }),
    );
    this.ctx.catch(() => {
      this.ctx = undefined; // a failed start (network, login) is retried with the next object
    });
    return this.ctx;
  }

  private async onTransfer(req: TransferRequest): Promise<void> {
    if (!this.init || !this.config) {
      return this.fail(req.oid, new BridgeError('BadRequest', false, `${req.event} before a successful init`));
    }
    if (req.event !== this.init.operation) {
      return this.fail(
        req.oid,
        new BridgeError('BadRequest', false, `${req.event} request in a ${this.init.operation} session`),
      );
    }
    const meter = new ProgressMeter(req.oid, req.size, (e) => this.out.send(e), this.deps.progressIntervalMs);
    try {
      const { upload, download, prepare } = await loadWork();
      prepare(req, this.config);
      const ctx = await this.transferContext();
      if (req.event === 'upload') {
        await upload(ctx, req, meter);
        meter.stop();
        this.out.send({ event: 'complete', oid: req.oid });
      } else {
        const got = await download(ctx, req, meter);
        meter.finish();
        this.out.send({ event: 'complete', oid: req.oid, path: got.path });
        await got.release();
      }
    } catch (e) {
      meter.stop();
      this.fail(req.oid, toBridgeError(e));
    }
  }

  private fail(oid: string, e: BridgeError): void {
    this.log.error(`${oid}: [${e.code}] ${e.message}`);
    if (e.cause && this.log.verbose) this.log.debug(String((e.cause as Error).stack ?? e.cause));
    this.out.send({ event: 'complete', oid, error: wireError(e) });
  }

  async close(): Promise<void> {
    const ctx = await this.ctx?.catch(() => undefined);
    await ctx?.provider.close?.().catch(() => {});
  }
}
