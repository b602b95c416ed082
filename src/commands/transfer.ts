import { Command } from '@oclif/core';

export default class Transfer extends Command {
  static override summary = 'The git-lfs custom transfer agent (started by git-lfs, not by you)';
  static override description =
    'Speaks the git-lfs custom transfer protocol on stdin/stdout. `lfs-bridge setup` registers it with git-lfs; ' +
    'bin/run.js starts it without loading the CLI framework.';

  async run(): Promise<void> {
    const { main } = await import('../bridge/main.js');
    await main();
  }
}
