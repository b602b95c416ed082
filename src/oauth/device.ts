/**
 * The device authorization grant (RFC 8628) for machines without a browser: show a URL and a short code, poll
 * the token endpoint until the user approves elsewhere (the calls: grants.ts). Polling keys on `error`, whatever
 * the status (Google varies it), and outlives a network failure: only the code's expiry ends it.
 */

import { authError, configError, toBridgeError } from '../errors.js';
import { backoffMs } from '../lib/backoff.js';
import { sleep as realSleep, type SleepFn } from '../lib/sleep.js';
import { deviceAuthorization, deviceTokens } from './grants.js';
import type { OAuthSpec } from './spec.js';
import { clientFields, OAuthError, type TokenResponse } from './tokens.js';

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
  clientFields(spec, o.clientId, o.clientSecret); // a missing client secret fails here, with the fix
  const client = { clientId: o.clientId, clientSecret: o.clientSecret };
  const start = await deviceAuthorization(spec, o.env, client).catch((e) => {
    if (e instanceof OAuthError && (e.error === 'invalid_client' || e.error === 'unauthorized_client')) {
      throw configError(
        `[${spec.provider}] this client id cannot use the device flow (${e.description ?? e.error}): it needs a client registered for devices`,
      );
    }
    throw e;
  });
  const url = start.verification_uri;
  const expiresInSec = start.expires_in > 0 ? start.expires_in : 900;
  let intervalS = Number(start.interval) > 0 ? Number(start.interval) : DEFAULT_INTERVAL_S;
  const complete = start.verification_uri_complete;
  o.prompt({ url, userCode: start.user_code, completeUrl: complete, expiresInSec });

  const deadline = now() + expiresInSec * 1000;
  let failures = 0;
  for (;;) {
    await sleep(intervalS * 1000 + (failures ? backoffMs(failures) : 0));
    if (now() > deadline) break;
    try {
      return await deviceTokens(spec, o.env, client, start.device_code);
    } catch (e) {
      if (!(e instanceof OAuthError)) {
        // The network dropped or the server failed for a moment: the user may be approving right now, so keep
        // polling (backing off) until the code expires, rather than lose the login.
        if (toBridgeError(e).retryable) {
          failures++;
          continue;
        }
        throw e;
      }
      failures = 0;
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
