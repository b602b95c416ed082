/**
 * `lfs-bridge login <provider>`: authorization code + PKCE (S256) through a loopback redirect (RFC 8252), the
 * paste-the-code variant where the provider has one (Dropbox, also chosen when there is no display or the browser
 * does not open), or the device grant (RFC 8628). The tokens go to the keychain only.
 */

import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { authError, BridgeError, configError } from '../errors.js';
import { gitConfigMap } from '../git.js';
import { endpointFor } from '../http/index.js';
import { maskInLogs } from '../log.js';
import { forgetCachedTokens } from './access.js';
import { type AccountInfo, checkAccountName, openStore, providerTitle, writeToken } from './accounts.js';
import { deviceFlow } from './device.js';
import { codeTokens } from './grants.js';
import { startLoopback } from './loopback.js';
import { newPkce, newState, type Pkce } from './pkce.js';
import { envName, type OAuthProvider, type OAuthSpec, specFor, urlFor } from './spec.js';
import { clientFields, expiresAt, OAuthError, type TokenResponse, TokenSet } from './tokens.js';

export const DEFAULT_LOGIN_TIMEOUT_MS = 5 * 60_000;

/** How login talks to the user; the command wires it to stdout/stderr/stdin, tests to buffers. */
export interface LoginIO {
  /** A URL to open, on a line of its own (stdout: scripts and tests read it). */
  url(url: string): void;
  /** A line for the human (stderr). */
  info(msg: string): void;
  /** Where a pasted code is read from. */
  stdin: Readable;
  /** Opens a browser; resolves false when that visibly failed. */
  openBrowser(url: string): Promise<boolean>;
}

export interface LoginOptions {
  env: NodeJS.ProcessEnv;
  /** Where git config is read (lfs-bridge.<provider>.clientid, .redirectport). */
  cwd?: string;
  /** --account NAME; default: the account's email. */
  account?: string;
  /** --client-id, --client-secret */
  clientId?: string;
  clientSecret?: string;
  /** --port (fixed-port providers) */
  port?: number;
  /** --timeout, in ms */
  timeoutMs?: number;
  /** false with --no-browser: print the URL and wait for the redirect. */
  browser?: boolean;
  /** --paste / --device */
  paste?: boolean;
  device?: boolean;
  /** --insecure-storage */
  insecure?: boolean;
  io: LoginIO;
}

export interface LoginResult {
  provider: OAuthProvider;
  account: string;
  email?: string;
  displayName?: string;
}

/** Client id: --client-id, LFS_BRIDGE_<P>_CLIENT_ID, git config lfs-bridge.<p>.clientid (in that order). */
export function resolveClient(
  spec: OAuthSpec,
  o: { clientId?: string; clientSecret?: string; env: NodeJS.ProcessEnv },
  git: Map<string, string>,
): { clientId?: string; clientSecret?: string } {
  const p = spec.provider;
  const clientId =
    o.clientId || o.env[envName(p, 'CLIENT_ID')] || git.get(`lfs-bridge.${p}.clientid`) || spec.defaultClientId;
  const clientSecret =
    o.clientSecret || o.env[envName(p, 'CLIENT_SECRET')] || git.get(`lfs-bridge.${p}.clientsecret`) || undefined;
  return { clientId: clientId || undefined, clientSecret };
}

/** The redirect port of a fixed-port provider: --port, git config, the default. */
export function redirectPort(spec: OAuthSpec, flag: number | undefined, git: Map<string, string>): number {
  if (spec.redirect.kind !== 'fixed-port') return flag ?? 0;
  const raw = flag ?? git.get(spec.redirect.portConfigKey);
  if (raw === undefined || raw === '') return spec.redirect.defaultPort;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    throw configError(`redirect port must be a whole number from 1 to 65535, got "${raw}"`);
  }
  return n;
}

export function redirectUriFor(spec: OAuthSpec, port: number): string {
  const r = spec.redirect;
  return r.kind === 'localhost' ? `http://localhost:${port}${r.path}` : `http://${r.host}:${port}${r.path}`;
}

/** A display to open a browser on: not on a Linux/BSD console or an SSH session without X11/Wayland. */
export function hasDisplay(env: NodeJS.ProcessEnv, platform = process.platform): boolean {
  if (platform === 'darwin' || platform === 'win32') return true;
  if (env.WSL_DISTRO_NAME) return true; // WSL opens the Windows browser
  return !!(env.DISPLAY || env.WAYLAND_DISPLAY);
}

export function authorizeUrl(
  spec: OAuthSpec,
  o: { env: NodeJS.ProcessEnv; clientId: string; pkce: Pkce; state: string; redirectUri?: string },
): string {
  const u = new URL(urlFor(spec, spec.authorizeUrl, o.env));
  const q = u.searchParams;
  q.set('client_id', o.clientId);
  q.set('response_type', 'code');
  if (o.redirectUri) q.set('redirect_uri', o.redirectUri);
  if (spec.scopes.length) q.set('scope', spec.scopes.join(' '));
  q.set('code_challenge', o.pkce.challenge);
  q.set('code_challenge_method', o.pkce.method);
  q.set('state', o.state);
  for (const [k, v] of Object.entries(spec.extraAuthorizeParams)) q.set(k, v);
  return u.toString();
}

/** The authorization_code grant with the PKCE verifier (RFC 6749 §4.1.3, RFC 7636 §4.5). */
export async function exchangeCode(
  spec: OAuthSpec,
  o: {
    env: NodeJS.ProcessEnv;
    code: string;
    verifier: string;
    redirectUri?: string;
    clientId: string;
    clientSecret?: string;
  },
): Promise<TokenResponse> {
  maskInLogs(o.code, o.verifier);
  try {
    clientFields(spec, o.clientId, o.clientSecret); // a missing client secret fails here, with the fix
    return await codeTokens(
      spec,
      o.env,
      { clientId: o.clientId, clientSecret: o.clientSecret },
      { code: o.code, verifier: o.verifier, redirectUri: o.redirectUri },
    );
  } catch (e) {
    if (e instanceof OAuthError) {
      if (e.error === 'invalid_client' || e.error === 'unauthorized_client') {
        throw configError(
          `[${spec.provider}] ${spec.title} refused the client id ${o.clientId}: ${e.description ?? e.error}`,
        );
      }
      if (e.error === 'invalid_grant') {
        throw new BridgeError(
          'Auth',
          false,
          `[${spec.provider}] ${spec.title} refused the authorization code (${e.description ?? 'expired, already used, or not from this login'})`,
          { hint: `run lfs-bridge login ${spec.provider} again` },
        );
      }
    }
    throw e;
  }
}

/** The first non-empty line of `input`, trimmed; rejects at end of input or after `timeoutMs`. */
export function readCode(input: Readable, timeoutMs: number, provider: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input, terminal: false });
    const done = (err: Error | null, v?: string) => {
      clearTimeout(timer);
      rl.removeAllListeners();
      rl.close();
      if (err) reject(err);
      else resolve(v!);
    };
    const timer = setTimeout(
      () =>
        done(
          authError(
            `[${provider}] no code pasted within ${Math.round(timeoutMs / 1000)} s: run lfs-bridge login ${provider} --paste again`,
          ),
        ),
      timeoutMs,
    );
    rl.on('line', (line) => {
      const v = line.trim();
      if (v) done(null, v);
    });
    rl.on('close', () =>
      done(
        authError(`[${provider}] no code was pasted (end of input): run lfs-bridge login ${provider} --paste again`),
      ),
    );
  });
}

type Flow = 'loopback' | 'paste' | 'device';

export async function login(provider: OAuthProvider, o: LoginOptions): Promise<LoginResult> {
  const spec = await specFor(provider);
  const { env, io } = o;
  const title = providerTitle[provider];
  const timeoutMs = o.timeoutMs ?? DEFAULT_LOGIN_TIMEOUT_MS;
  if (o.account !== undefined) checkAccountName(o.account);
  const git = await gitConfigMap('^lfs-bridge\\.', o.cwd);
  const port = redirectPort(spec, o.port, git);
  const fixedRedirect = spec.redirect.kind === 'fixed-port' ? redirectUriFor(spec, port) : undefined;
  const { clientId, clientSecret } = resolveClient(spec, o, git);
  if (!clientId) throw configError(spec.clientIdHelp(fixedRedirect));
  if (spec.sendsClientSecret) clientFields(spec, clientId, clientSecret); // fails early without a secret
  // A missing keychain fails now, not after the user has approved in the browser.
  const store = await openStore({ env, insecure: o.insecure });

  let flow: Flow = 'loopback';
  if (o.device && o.paste) throw configError('--device and --paste exclude each other');
  if (o.device) {
    if (!spec.deviceCodeUrl) {
      throw configError(
        `${title} has no device login: use ${spec.pasteCode ? '--paste (or --no-browser)' : '--no-browser'}`,
      );
    }
    flow = 'device';
  } else if (o.paste) {
    if (!spec.pasteCode) {
      throw configError(
        `${title} has no paste-code login: use --no-browser${spec.deviceCodeUrl ? ' or --device' : ''}`,
      );
    }
    flow = 'paste';
  } else if (o.browser !== false && spec.pasteCode && !hasDisplay(env)) {
    io.info(`No display to open a browser on: logging in to ${title} by pasting a code.`);
    flow = 'paste';
  }

  let tokens: TokenResponse | undefined;
  if (flow === 'loopback') {
    const state = newState();
    const pkce = newPkce();
    const lb = await startLoopback({
      hosts: spec.redirect.kind === 'localhost' ? ['127.0.0.1', '::1'] : [spec.redirect.host],
      port,
      path: spec.redirect.path,
      state,
      timeoutMs,
      title,
      provider,
      portHint:
        spec.redirect.kind === 'fixed-port'
          ? `free it, or pass --port N (or git config --global ${spec.redirect.portConfigKey} N) after adding http://127.0.0.1:N${spec.redirect.path} to the app's redirect URIs`
          : undefined,
      onIgnored: (why) => io.info(why),
      timeoutHint: spec.pasteCode
        ? '--paste works without a redirect'
        : spec.deviceCodeUrl
          ? '--device works without a browser'
          : undefined,
    });
    try {
      const redirectUri = redirectUriFor(spec, lb.port);
      const url = authorizeUrl(spec, { env, clientId, pkce, state, redirectUri });
      let opened = false;
      if (o.browser !== false) {
        opened = await io.openBrowser(url);
        if (opened) io.info(`Opened a browser to log in to ${title}. If nothing appears, open this URL:`);
      }
      if (!opened && o.browser !== false && spec.pasteCode) {
        io.info(`The browser did not open: logging in to ${title} by pasting a code.`);
        flow = 'paste';
      } else {
        if (!opened)
          io.info(`Open this URL in a browser to log in to ${title} (waiting for its redirect to ${redirectUri}):`);
        io.url(url);
        const code = await lb.code;
        io.info(`Authorization received: finishing the login to ${title}.`);
        tokens = await exchangeCode(spec, { env, code, verifier: pkce.verifier, redirectUri, clientId, clientSecret });
      }
    } finally {
      await lb.close();
    }
  }
  if (flow === 'paste') {
    const pkce = newPkce();
    const url = authorizeUrl(spec, { env, clientId, pkce, state: newState() });
    io.info(`Open this URL in a browser, allow access, then paste the code ${title} shows here and press Enter:`);
    io.url(url);
    const code = await readCode(io.stdin, timeoutMs, provider);
    tokens = await exchangeCode(spec, { env, code, verifier: pkce.verifier, clientId, clientSecret });
  }
  if (flow === 'device') {
    tokens = await deviceFlow(spec, {
      env,
      clientId,
      clientSecret,
      prompt: ({ url, userCode, expiresInSec }) => {
        io.info(
          `To log in to ${title}, open this URL on any device and enter the code ${userCode} (valid ${Math.round(expiresInSec / 60)} min):`,
        );
        io.url(url);
      },
    });
  }
  if (!tokens) throw new BridgeError('Unexpected', false, `[${provider}] login ended without tokens`);

  const granted = tokens.scope?.split(/[\s,]+/);
  const missing = granted ? spec.scopes.filter((sc) => !granted.includes(sc)) : [];
  if (missing.length) {
    io.info(
      `Warning: ${title} did not grant ${missing.join(', ')}: enable it for the app (for Dropbox: the App Console's Permissions tab), then log in again.`,
    );
  }
  const who = await spec.identify(tokens.access_token, env);
  const account = o.account ?? who.email;
  if (!account) throw configError(`[${provider}] ${title} did not say which account this is: pass --account NAME`);
  checkAccountName(account);
  const set = new TokenSet(provider, {
    access: tokens.access_token,
    refresh: tokens.refresh_token,
    expiresAt: expiresAt(tokens),
    scope: tokens.scope,
    account,
    displayName: who.displayName,
    email: who.email,
    clientId,
    clientSecret: spec.sendsClientSecret ? clientSecret : undefined,
    endpoint: endpointFor(provider, env), // the tokens go back only where they came from
  });
  await writeToken(store, set);
  forgetCachedTokens(provider, account);
  return { provider, account, email: who.email, displayName: who.displayName };
}

export type { AccountInfo };
