import { Args, Command, Flags } from '@oclif/core';
import { availableProviders } from '../providers/index.js';
import { clone } from '../repo/clone.js';

export default class Clone extends Command {
  static override summary = 'Clone a repository whose LFS objects live behind lfs-bridge, set it up and pull';
  static override description =
    'Runs git clone with smudge skipped, lfs-bridge setup (from the .lfs-bridge file the team committed, or the flags), ' +
    'then git lfs pull. For machines without lfs-bridge install, where a plain git clone fails at checkout.';
  static override examples = ['<%= config.bin %> clone git@github.com:team/game-assets.git'];
  static override enableJsonFlag = true;
  static override args = {
    url: Args.string({ required: true, description: 'repository to clone' }),
    dir: Args.string({ description: 'directory to clone into' }),
  };
  static override flags = {
    provider: Flags.string({
      char: 'p',
      options: availableProviders,
      description: 'override the provider from .lfs-bridge',
    }),
    root: Flags.string({ char: 'r', description: 'override the root from .lfs-bridge' }),
    account: Flags.string({ description: 'which logged-in account to use' }),
    branch: Flags.string({ char: 'b', description: 'branch to check out' }),
  };

  async run() {
    const { args, flags } = await this.parse(Clone);
    const r = await clone({
      url: args.url,
      dir: args.dir,
      provider: flags.provider,
      root: flags.root,
      account: flags.account,
      gitArgs: flags.branch ? ['--branch', flags.branch] : [],
      quiet: this.jsonEnabled(),
    });
    if (!this.jsonEnabled()) {
      for (const [k, v] of Object.entries(r.adopted)) this.log(`Adopted from ${r.adoptedFrom}: ${k} = ${v}`);
      for (const n of r.notes) this.log(`Note: ${n}`);
      this.log(`Cloned into ${r.top} and pulled LFS objects through ${r.provider} (${r.root}).`);
    }
    return r;
  }
}
