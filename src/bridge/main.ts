/** Process entry of the transfer agent: wires stdin/stdout to the agent and exits with its code. */
import { createLogger } from '../log.js';
import { runAgent } from './agent.js';

export async function main(): Promise<void> {
  // git-lfs sends SIGINT to the whole process group on Ctrl-C: stop at once; partials stay for resume.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
  process.stdout.on('error', () => process.exit(0)); // EPIPE: git-lfs is gone
  // A bug must say what it was, through the logger (secrets masked, LFS_BRIDGE_LOG), not only as Node's raw stack.
  const crash = (e: unknown) => {
    createLogger('transfer').error(`internal error, the agent stops: ${(e as Error)?.stack ?? String(e)}`);
    process.exit(70);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  const code = await runAgent({ stdin: process.stdin, stdout: process.stdout });
  process.exit(code);
}
