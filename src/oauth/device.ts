/**
 * The device authorization grant (RFC 8628) for machines without a browser: show a URL and a short code, poll
 * the token endpoint until the user approves elsewhere. Google answers `verification_url` (not RFC 8628's
 * `verification_uri`) and varies the HTTP status of its polling errors: we accept both names and key on `error`.
 */

import { authError, BridgeError, configError } from '../errors.js';
import { sleep as realSleep, type SleepFn } from '../lib/sleep.js';
import type { OAuthSpec } from './spec.js';
import { asTokenResponse, clientFields, OAuthError, postForm, type TokenResponse } from './tokens.js';

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

export interface DeviceOptions {
  env: NodeJS.ProcessEnv;
  clientId: string;
  clientSecret?: string;
  /** Tells the user where to go and what to type. */
  prompt(p: { url: string; userCode: string; completeUrl?: string; expiresInSec: number }): void;
  sleep?: SleepFn;
  now?: () => number;
}

/** RFC 8628 §3.2: "If no value is provided, clients MUST use 5 as the default." */
const DEFAULT_INTERVAL_S = 5;
/** RFC 8628 §3.5: slow_down → "the interval MUST be increased by 5 seconds for this and all subsequent requests". */
const SLOW_DOWN_S = 5;

export async function deviceFlow(spec: OAuthSpec, o: DeviceOptions): Promise<TokenResponse> {
  if (!spec.deviceCodeUrl) {
    throw configError(`${spec.title} has no device login: use ${spec.pasteCode ? '--paste or ' : ''}--no-browser`);
  }
  const sleep = o.sleep ?? realSleep;
  const now = o.now ?? Date.now;
  const client = clientFields(spec, o.clientId, o.clientSecret);
  const start = await postForm(
    spec,
    spec.deviceCodeUrl,
    { client_id: o.clientId, scope: spec.scopes.join(' ') },
    o.env,
    'device authorization',
  ).catch((e) => {
    if (e instanceof OAuthError && (e.error === 'invalid_client' || e.error === 'unauthorized_client')) {
      throw configError(
        `[${spec.provider}] this client id cannot use the device flow (${e.description ?? e.error}): it needs a client registered for devices`,
      );
    }
    throw e;
  });
  const deviceCode = start.device_code;
  const userCode = start.user_code;
  const url = start.verification_uri ?? start.verification_url;
  if (typeof deviceCode !== 'string' || typeof userCode !== 'string' || typeof url !== 'string') {
    throw new BridgeError('Unexpected', false, `[${spec.provider}] device authorization answer is incomplete`);
  }
  const expiresInSec = Number(start.expires_in) > 0 ? Number(start.expires_in) : 900;
  let intervalS = Number(start.interval) > 0 ? Number(start.interval) : DEFAULT_INTERVAL_S;
  const complete = start.verification_uri_complete ?? start.verification_url_complete;
  o.prompt({ url, userCode, completeUrl: typeof complete === 'string' ? complete : undefined, expiresInSec });

  const deadline = now() + expiresInSec * 1000;
  for (;;) {
    await sleep(intervalS * 1000);
    if (now() > deadline) break;
    try {
      const json = await postForm(
        spec,
        spec.tokenUrl,
        { grant_type: DEVICE_GRANT, device_code: deviceCode, ...client },
        o.env,
        'device login',
      );
      return asTokenResponse(spec, json, 'device login');
    } catch (e) {
      if (!(e instanceof OAuthError)) throw e;
      switch (e.error) {
        case 'authorization_pending':
          continue;
        case 'slow_down':
          intervalS += SLOW_DOWN_S;
          continue;
        case 'access_denied':
        case 'authorization_declined':
          throw authError(`[${spec.provider}] the login was denied at ${url}`);
        case 'expired_token':
        case 'bad_verification_code':
          throw authError(
            `[${spec.provider}] the device code expired: run lfs-bridge login ${spec.provider} --device again`,
          );
        default:
          throw e;
      }
    }
  }
  throw authError(`[${spec.provider}] the device code expired: run lfs-bridge login ${spec.provider} --device again`);
}
