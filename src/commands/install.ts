import { Command, Flags } from '@oclif/core';
import { install, uninstall } from '../repo/install.js';

export default class Install extends Command {
  static override summary = 'Once per machine: let a plain git clone of an lfs-bridge repository check out its files';
  static override description =
    'Writes the agent (lfs.customtransfer.lfs-bridge.*) and lfs.https://lfs-bridge.invalid/.standalonetransferagent ' +
    'into your global git config. Only repositories whose committed .lfsconfig has an lfs.url under ' +
    'https://lfs-bridge.invalid/ (written by setup --shared) use the agent; every other remote keeps its own LFS ' +
    'server. Safe to run again; --remove takes out exactly these keys.';
  static override examples = ['<%= config.bin %> install', '<%= config.bin %> install --remove'];
  static override enableJsonFlag = true;
  static override flags = {
    remove: Flags.boolean({ description: 'remove the keys install wrote from the global git config' }),
  };

  async run() {
    const { flags } = await this.parse(Install);
    if (flags.remove) {
      const r = await uninstall();
      if (!this.jsonEnabled()) {
        if (!r.removed.length) this.log(`Nothing to remove in ${r.file}.`);
        for (const k of r.removed) this.log(`Removed from ${r.file}: ${k}`);
      }
      return r;
    }
    const r = await install();
    if (!this.jsonEnabled()) {
      for (const [k, v] of Object.entries(r.written)) this.log(`Wrote ${r.file}: ${k} = ${v}`);
      if (!Object.keys(r.written).length) this.log(`Already installed in ${r.file}: nothing changed.`);
      this.log('A plain git clone of a repository set up with lfs-bridge setup --shared now checks out its files.');
    }
    return r;
  }
}
