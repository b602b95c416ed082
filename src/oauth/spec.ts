/**
 * What differs between the providers' OAuth 2 servers, as data. The engine
 * in this folder reads a spec and never names a provider; each provider's `auth.ts` exports its spec.
 * See docs/providers.md "OAuth across providers".
 */
import { configError } from '../errors.js';
import { endpointFor, rebase } from '../http/endpoint.js';

export const oauthProviders = ['dropbox', 'gdrive', 'onedrive'] as const;
export type OAuthProvider = (typeof oauthProviders)[number];
export const isOAuthProvider = (s: string): s is OAuthProvider => (oauthProviders as readonly string[]).includes(s);

/** Where the browser is sent back to after consent (RFC 8252 §7.3 loopback redirect). */
export type RedirectPolicy =
  /** Dropbox: the URI must match a registered one exactly, port and path included → one configurable port. */
  | { kind: 'fixed-port'; host: '127.0.0.1'; defaultPort: number; path: string; portConfigKey: string }
  /** Google desktop clients: any port on 127.0.0.1, nothing registered. */
  | { kind: 'any-port'; host: '127.0.0.1'; path: string }
  /** Microsoft: `http://localhost:PORT/` with the port ignored when matching: listen on 127.0.0.1 and ::1. */
  | { kind: 'localhost'; path: string };

/** Who the tokens belong to, from the provider's "current user" call. */
export interface Identity {
  email?: string;
  displayName?: string;
}

export interface OAuthSpec {
  provider: OAuthProvider;
  /** For messages: "Dropbox". */
  title: string;
  /** Canonical URLs; every one is rebased by LFS_BRIDGE_<P>_ENDPOINT (see `urlFor`). */
  authorizeUrl: string;
  tokenUrl: string;
  /** RFC 8628 device authorization endpoint; absent = no device flow (Dropbox). */
  deviceCodeUrl?: string;
  /**
   * Revocation: a URL taking the RFC 7009 form `token=…`, or a function doing it the provider's way (Dropbox: an
   * RPC with the bearer). Absent: logout only forgets the tokens. Resolves false when the token was already dead.
   */
  revoke?: string | ((accessToken: string, env: NodeJS.ProcessEnv) => Promise<boolean>);
  scopes: readonly string[];
  /** Send `scope` on token requests too (Microsoft). */
  scopeOnTokenRequests?: boolean;
  /** Added to the authorize URL: Dropbox `token_access_type=offline`; Google `access_type=offline&prompt=consent`. */
  extraAuthorizeParams: Readonly<Record<string, string>>;
  redirect: RedirectPolicy;
  /** Every refresh returns a new refresh token and kills the old one (Microsoft): store it before anything else. */
  rotatesRefreshTokens: boolean;
  /** Token requests carry `client_secret` (Google desktop clients need it even with PKCE). */
  sendsClientSecret: boolean;
  /** Authorize without redirect_uri shows a code to paste (Dropbox). */
  pasteCode: boolean;
  /** A client id compiled in, used when none is configured. */
  defaultClientId?: string;
  /** The Config error text when no client id is configured: how to register an app, and how to pass its id. */
  clientIdHelp(redirectUri: string | undefined): string;
  /** The account behind an access token. */
  identify(accessToken: string, env: NodeJS.ProcessEnv): Promise<Identity>;
}

/** A spec URL with the LFS_BRIDGE_<P>_ENDPOINT override applied (scheme and host replaced, path kept). */
export const urlFor = (spec: Pick<OAuthSpec, 'provider'>, url: string, env: NodeJS.ProcessEnv): string =>
  rebase(url, endpointFor(spec.provider, env));

/** LFS_BRIDGE_DROPBOX_… */
export const envName = (provider: OAuthProvider, what: string): string =>
  `LFS_BRIDGE_${provider.toUpperCase()}_${what}`;

/** Where specs come from: the provider registry (providers/index.ts) sets it, so this folder never names one. */
type SpecSource = (provider: string) => Promise<OAuthSpec> | undefined;
let source: SpecSource = () => undefined;
export function useSpecSource(s: SpecSource): void {
  source = s;
}

const overrides = new Map<OAuthProvider, OAuthSpec>();

/** The provider's spec, loaded on first use (so the agent imports only its own provider's module). */
export async function specFor(provider: OAuthProvider): Promise<OAuthSpec> {
  const spec = overrides.get(provider);
  if (spec) return spec;
  const load = source(provider);
  if (!load) throw configError(`${provider} login is not in this build`);
  return load;
}

/** Tests: use `spec` for its provider in place of the real one (undefined restores the real one). */
export function overrideSpec(provider: OAuthProvider, spec: OAuthSpec | undefined): void {
  if (spec) overrides.set(provider, spec);
  else overrides.delete(provider);
}
