/** Process entry of the transfer agent: wires stdin/stdout to the agent and exits with its code. */
import { runAgent } from './agent.js';

export async function main(): Promise<void> {
  // git-lfs sends SIGINT to the whole process group on Ctrl-C: stop at once; partials stay for resume.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));
  process.stdout.on('error', () => process.exit(0)); // EPIPE: git-lfs is gone
  const code = await runAgent({ stdin: process.stdin, stdout: process.stdout });
  process.exit(code);
}
