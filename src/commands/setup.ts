import { Command, Flags } from '@oclif/core';
import { availableProviders } from '../providers/index.js';
import { removeSetup, setup, TEAM_FILE } from '../repo/setup.js';

export default class Setup extends Command {
  static override summary = 'Wire this repository to a storage provider through lfs-bridge';
  static override description =
    'Checks that the store can be written (and the login works), then writes the git-lfs agent keys and ' +
    'lfs-bridge.* into .git/config. With --shared, also records provider and root in .lfs-bridge and, as the ' +
    'lfs.url that lfs-bridge install answers to, in .lfsconfig (commit both) for the team; run with no flags in a ' +
    'fresh clone to adopt them from there. In a clone whose checkout failed, it also finishes the checkout.';
  static override examples = [
    '<%= config.bin %> setup --provider local --root /mnt/nas/lfs/my-repo',
    '<%= config.bin %> setup --provider dropbox --root /lfs/my-repo --shared',
    '<%= config.bin %> setup            # in a clone whose committed .lfs-bridge names provider and root',
    '<%= config.bin %> setup --remove',
  ];
  static override enableJsonFlag = true;
  static override flags = {
    provider: Flags.string({ char: 'p', options: availableProviders, description: 'where objects are stored' }),
    root: Flags.string({
      char: 'r',
      description: 'local: a folder; cloud: a path like /lfs/my-repo, or id:<folder id>',
    }),
    shared: Flags.boolean({
      description: 'also record provider and root in .lfs-bridge and .lfsconfig (commit them for the team)',
    }),
    'chunk-size': Flags.string({ description: 'upload chunk size, e.g. 48MiB (lfs-bridge.chunksize)' }),
    'max-rate': Flags.string({ description: 'bandwidth limit per transfer process, e.g. 10MiB (lfs-bridge.maxrate)' }),
    'download-streams': Flags.string({
      description: 'most parallel ranged streams per download (lfs-bridge.downloadstreams, default 4)',
    }),
    'upload-streams': Flags.string({
      description: 'most pieces of one upload sent in parallel, Dropbox (lfs-bridge.uploadstreams, default 4)',
    }),
    account: Flags.string({ description: 'which logged-in account to use (lfs-bridge.account)' }),
    remove: Flags.boolean({ description: 'undo setup in .git/config', exclusive: ['provider', 'root', 'shared'] }),
  };

  async run() {
    const { flags } = await this.parse(Setup);
    if (flags.remove) {
      const r = await removeSetup();
      if (!this.jsonEnabled()) this.log(r.removed.length ? `Removed ${r.removed.join(', ')}` : 'Nothing to remove.');
      return r;
    }
    const r = await setup({
      provider: flags.provider,
      root: flags.root,
      shared: flags.shared,
      chunkSize: flags['chunk-size'],
      maxRate: flags['max-rate'],
      downloadStreams: flags['download-streams'],
      uploadStreams: flags['upload-streams'],
      account: flags.account,
    });
    if (!this.jsonEnabled()) {
      for (const [k, v] of Object.entries(r.adopted)) this.log(`Adopted from ${r.adoptedFrom}: ${k} = ${v}`);
      this.log(`lfs-bridge set up in ${r.top}: provider ${r.provider}, root ${r.root}`);
      for (const [k, v] of Object.entries(r.shared)) this.log(`Wrote ${TEAM_FILE}: ${k} = ${v}`);
      for (const [k, v] of Object.entries(r.lfsconfig)) this.log(`Wrote .lfsconfig: ${k} = ${v}`);
      for (const n of r.notes) this.log(`Note: ${n}`);
    }
    return r;
  }
}
