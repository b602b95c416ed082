import { Command } from '@oclif/core';
import { renderStatus } from '../repo/render.js';
import { collectStatus } from '../repo/status.js';

export default class Status extends Command {
  static override summary = 'Show the repository wiring, keychain, accounts and pending resumable transfers';
  static override enableJsonFlag = true;

  async run() {
    await this.parse(Status);
    const info = await collectStatus();
    if (!this.jsonEnabled()) this.log(renderStatus(info));
    return info;
  }
}
