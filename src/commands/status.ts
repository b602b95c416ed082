import { Command } from '@oclif/core';
import { renderStatus } from '../repo/render.js';
import { collectStatus } from '../repo/status.js';

export default class Status extends Command {
  static override summary = 'Show the repository wiring, store, keychain, accounts and pending resumable transfers';
  static override description =
    'Exits non-zero when anything it reports is a problem (not in a repository, not set up, an unusable store, a ' +
    'login that does not work, a missing agent command), so scripts can rely on it.';
  static override enableJsonFlag = true;

  async run() {
    await this.parse(Status);
    const info = await collectStatus();
    if (!this.jsonEnabled()) this.log(renderStatus(info));
    if (!info.ok) process.exitCode = 1;
    return info;
  }
}
