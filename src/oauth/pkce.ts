/** PKCE (RFC 7636) with S256, and the `state` value that ties a redirect to the login that asked for it. */
import { createHash, randomBytes } from 'node:crypto';

/** 32 random bytes → 43 base64url characters (RFC 7636 §4.1: 43–128 of [A-Za-z0-9-._~]). */
export const newVerifier = (): string => randomBytes(32).toString('base64url');

/** BASE64URL(SHA256(ASCII(verifier))), no padding (RFC 7636 §4.2). */
export const challengeS256 = (verifier: string): string =>
  createHash('sha256').update(verifier, 'ascii').digest('base64url');

export const newState = (): string => randomBytes(16).toString('base64url');

export interface Pkce {
  verifier: string;
  challenge: string;
  method: 'S256';
}

export function newPkce(): Pkce {
  const verifier = newVerifier();
  return { verifier, challenge: challengeS256(verifier), method: 'S256' };
}
