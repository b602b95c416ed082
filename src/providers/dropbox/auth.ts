/**
 * Dropbox's OAuth 2 configuration for src/oauth and the account
 * behind a token. Plain HTTP only: this file is on the agent's path and loads no SDK.
 * See docs/providers.md "OAuth" (Dropbox) and "OAuth across providers".
 */
import { authError, BridgeError } from '../../errors.js';
import { drain, endpointFor, http, rebase, text } from '../../http/index.js';
import { redact } from '../../log.js';
import type { Identity, OAuthSpec } from '../../oauth/spec.js';

const API = 'https://api.dropboxapi.com';
/** rclone uses 53682 too; Dropbox matches the registered redirect URI exactly, port and path included. */
export const DEFAULT_REDIRECT_PORT = 53682;
export const REDIRECT_PATH = '/callback';
/** What the App Console's Permissions tab must tick (docs/providers.md "OAuth", Dropbox). */
export const DROPBOX_SCOPES = [
  'account_info.read',
  'files.content.read',
  'files.content.write',
  'files.metadata.read',
] as const;

/** An RPC without arguments: no body and no content type (an empty body with a JSON type is a 400). */
async function rpcNoArgs(route: string, token: string, env: NodeJS.ProcessEnv) {
  return http({
    method: 'POST',
    url: rebase(`${API}/2/${route}`, endpointFor('dropbox', env)),
    headers: { authorization: `Bearer ${token}` },
    env,
    signal: AbortSignal.timeout(30_000),
  });
}

/** users/get_current_account → email and display name. */
export async function identify(accessToken: string, env: NodeJS.ProcessEnv): Promise<Identity> {
  const res = await rpcNoArgs('users/get_current_account', accessToken, env);
  const body = await text(res);
  if (res.status === 401) throw authError(`[dropbox] the new access token was refused: ${redact(body.slice(0, 200))}`);
  if (res.status !== 200) {
    throw new BridgeError(
      'Unexpected',
      false,
      `[dropbox] users/get_current_account: HTTP ${res.status}: ${redact(body.slice(0, 200))}`,
    );
  }
  const v = JSON.parse(body) as { email?: string; name?: { display_name?: string } };
  return { email: v.email, displayName: v.name?.display_name };
}

/** auth/token/revoke: ends the access token and (said to: docs/providers.md "OAuth", Dropbox) its refresh token. */
export async function revoke(accessToken: string, env: NodeJS.ProcessEnv): Promise<boolean> {
  const res = await rpcNoArgs('auth/token/revoke', accessToken, env);
  await drain(res);
  if (res.status === 200) return true;
  if (res.status === 401) return false; // already invalid
  throw new BridgeError('Unexpected', false, `[dropbox] auth/token/revoke: HTTP ${res.status}`);
}

const clientIdHelp = (redirectUri = `http://127.0.0.1:${DEFAULT_REDIRECT_PORT}${REDIRECT_PATH}`) =>
  [
    'no Dropbox app key configured. lfs-bridge talks to Dropbox as an app you register (once, free):',
    '  1. Dropbox App Console (https://www.dropbox.com/developers/apps) → Create app → "Scoped access"',
    '  2. access type: "App folder" (one person; objects live under /Apps/<app name>) or',
    '     "Full Dropbox" (needed for a team\'s shared folders)',
    `  3. Permissions tab: tick ${DROPBOX_SCOPES.join(', ')}; Submit`,
    `  4. Settings tab → OAuth 2 → Redirect URIs: add ${redirectUri} (exactly, port and path included; --port N changes it)`,
    '  5. copy the App key, then: lfs-bridge login dropbox --client-id <app key>',
    '     (or set LFS_BRIDGE_DROPBOX_CLIENT_ID, or git config --global lfs-bridge.dropbox.clientid <app key>)',
    'The app key is not a secret; no app secret is needed (PKCE).',
  ].join('\n');

export const oauthSpec: OAuthSpec = {
  provider: 'dropbox',
  title: 'Dropbox',
  authorizeUrl: 'https://www.dropbox.com/oauth2/authorize',
  tokenUrl: `${API}/oauth2/token`,
  revoke,
  scopes: DROPBOX_SCOPES,
  // offline: a refresh token comes with the 4-hour access token
  extraAuthorizeParams: { token_access_type: 'offline' },
  redirect: {
    kind: 'fixed-port',
    host: '127.0.0.1',
    defaultPort: DEFAULT_REDIRECT_PORT,
    path: REDIRECT_PATH,
    portConfigKey: 'lfs-bridge.dropbox.redirectport',
  },
  rotatesRefreshTokens: false,
  sendsClientSecret: false,
  pasteCode: true,
  clientIdHelp,
  identify,
};
