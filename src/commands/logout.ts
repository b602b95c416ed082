import { Args, Command, Flags } from '@oclif/core';
import type { OAuthProvider } from '../oauth/spec.js';
import { loginProviders } from '../providers/index.js';

export default class Logout extends Command {
  static override summary = 'Revoke and forget the tokens of a provider account';
  static override description =
    'Revokes the tokens at the provider where it offers revocation (Dropbox does), then deletes them from the ' +
    'keychain. With several accounts, name one with --account or use --all.';
  static override examples = [
    '<%= config.bin %> logout dropbox',
    '<%= config.bin %> logout dropbox --account work',
    '<%= config.bin %> logout dropbox --all',
  ];
  static override enableJsonFlag = true;
  static override args = {
    provider: Args.string({ required: true, options: loginProviders, description: 'provider to log out of' }),
  };
  static override flags = {
    account: Flags.string({ description: 'account to log out (default: the only one)', exclusive: ['all'] }),
    all: Flags.boolean({ description: 'log out every account of the provider' }),
    'insecure-storage': Flags.boolean({ description: 'the tokens are in the plain-file store' }),
  };

  async run() {
    const { args, flags } = await this.parse(Logout);
    const { logout } = await import('../oauth/logout.js');
    const { providerTitle } = await import('../oauth/accounts.js');
    const provider = args.provider as OAuthProvider;
    const r = await logout(provider, {
      env: process.env,
      account: flags.account,
      all: flags.all,
      insecure: flags['insecure-storage'],
    });
    const title = providerTitle[provider];
    if (!r.accounts.length) this.log(`Not logged in to ${title}.`);
    for (const a of r.accounts) {
      this.log(
        `Logged out of ${title} (account ${a.account})${a.revoked ? ': tokens revoked' : a.note ? `: ${a.note}` : ''}`,
      );
    }
    return r;
  }
}
