/**
 * The OAuth 2 engine shared by the cloud providers. The agent needs `getAccessToken`;
 * the login/logout commands need `login`/`logout`; status and setup need `listAccounts`/`selectAccount`.
 * See docs/architecture.md "Modules".
 */

export { type AccessOptions, type AccessToken, FRESH_MS, forgetCachedTokens, getAccessToken } from './access.js';
export {
  type AccountInfo,
  chooseAccount,
  listAccounts,
  providerTitle,
  type StoreOptions,
  selectAccount,
  tokenKey,
} from './accounts.js';
export {
  DEFAULT_LOGIN_TIMEOUT_MS,
  hasDisplay,
  type LoginIO,
  type LoginOptions,
  type LoginResult,
  login,
} from './login.js';
export { type LogoutOptions, type LogoutResult, logout } from './logout.js';
export { challengeS256, newPkce } from './pkce.js';
export {
  type Identity,
  isOAuthProvider,
  type OAuthProvider,
  type OAuthSpec,
  oauthProviders,
  overrideSpec,
  type RedirectPolicy,
  specFor,
} from './spec.js';
export { type TokenRecord, TokenSet } from './tokens.js';
