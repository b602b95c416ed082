import { Args, Command, Flags } from '@oclif/core';
import type { OAuthProvider } from '../oauth/spec.js';
import { loginProviders } from '../providers/index.js';

export default class Login extends Command {
  static override summary = 'Log in to a cloud storage provider; the tokens are kept in the OS keychain';
  static override description =
    'Opens a browser for consent and receives its redirect on 127.0.0.1 (authorization code with PKCE). ' +
    'Without a display, or with --paste, Dropbox shows a code to paste here instead; --device uses the device ' +
    'flow where the provider has one. The account is named by its email unless --account is given.';
  static override examples = [
    '<%= config.bin %> login dropbox --client-id <app key>',
    '<%= config.bin %> login dropbox --no-browser      # prints the URL, waits for the redirect',
    '<%= config.bin %> login dropbox --paste           # prints the URL, reads the code Dropbox shows',
    '<%= config.bin %> login dropbox --account work --port 53683',
  ];
  static override enableJsonFlag = true;
  static override args = {
    provider: Args.string({ required: true, options: loginProviders, description: 'provider to log in to' }),
  };
  static override flags = {
    account: Flags.string({ description: 'name to store this login under (default: the account email)' }),
    'client-id': Flags.string({
      description: 'OAuth client id / app key (else LFS_BRIDGE_<P>_CLIENT_ID, git config lfs-bridge.<p>.clientid)',
    }),
    'client-secret': Flags.string({
      description: 'OAuth client secret, for providers whose desktop apps have one (else LFS_BRIDGE_<P>_CLIENT_SECRET)',
    }),
    port: Flags.integer({
      min: 1,
      max: 65535,
      description: 'redirect port on 127.0.0.1 (dropbox: default 53682 or lfs-bridge.dropbox.redirectport)',
    }),
    timeout: Flags.integer({ min: 1, default: 300, description: 'seconds to wait for the browser or the pasted code' }),
    browser: Flags.boolean({
      allowNo: true,
      default: true,
      description: 'open a browser (--no-browser: print the URL and wait for the redirect)',
    }),
    paste: Flags.boolean({ description: 'paste the code the provider shows instead of a redirect (dropbox)' }),
    device: Flags.boolean({ description: 'device flow: enter a code on another device (providers that have one)' }),
    'insecure-storage': Flags.boolean({
      description: 'keep tokens in a plain 0600 file instead of the OS keychain',
    }),
  };

  async run() {
    const { args, flags } = await this.parse(Login);
    const { login } = await import('../oauth/login.js');
    const { providerTitle } = await import('../oauth/accounts.js');
    const json = this.jsonEnabled();
    const r = await login(args.provider as OAuthProvider, {
      env: process.env,
      account: flags.account,
      clientId: flags['client-id'],
      clientSecret: flags['client-secret'],
      port: flags.port,
      timeoutMs: flags.timeout * 1000,
      browser: flags.browser,
      paste: flags.paste,
      device: flags.device,
      insecure: flags['insecure-storage'],
      io: {
        // The URL on a line of its own on stdout (stderr under --json, whose stdout is the result only).
        url: (u) => (json ? process.stderr : process.stdout).write(`${u}\n`),
        info: (m) => process.stderr.write(`${m}\n`),
        stdin: process.stdin,
        openBrowser,
      },
    });
    const who = [r.displayName, r.email ? `<${r.email}>` : undefined].filter(Boolean).join(' ') || r.account;
    this.log(`Logged in to ${providerTitle[r.provider]} as ${who} (account ${r.account})`);
    return r;
  }
}

/** Opens `url` with the `open` package; false when the opener is missing or exits with an error soon. */
async function openBrowser(url: string): Promise<boolean> {
  try {
    const { default: open } = await import('open');
    const child = await open(url);
    return await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(true), 3000);
      t.unref();
      child.once('error', () => {
        clearTimeout(t);
        resolve(false);
      });
      child.once('exit', (code) => {
        clearTimeout(t);
        resolve(code === 0 || code === null);
      });
    });
  } catch {
    return false;
  }
}
