/**
 * LFS_BRIDGE_<P>_ENDPOINT: one base URL replacing scheme and host of every URL we build for provider P, path kept
 * (tests, API gateways). It carries the keychain's tokens, so it is accepted only where they cannot leak on the
 * way: https anywhere, plain http only on this machine's loopback. Whoever sets it is told so on stderr, once per
 * process; tokens remember the endpoint they came from (src/oauth/access.ts) and are never sent to another one.
 */
import { isIPv4 } from 'node:net';
import { configError } from '../errors.js';

export const endpointVar = (provider: string): string => `LFS_BRIDGE_${provider.toUpperCase()}_ENDPOINT`;

/** 127.0.0.0/8, ::1 and localhost: a plain-http endpoint there never leaves the machine. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || (isIPv4(h) && h.startsWith('127.'));
}

/** The override checked and normalised (`scheme://host[:port][/path]`, no trailing slash); throws a Config error. */
export function checkEndpoint(provider: string, value: string): string {
  const name = endpointVar(provider);
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw configError(`${name}="${value}" is not a URL: set it to https://host[:port] or unset it`);
  }
  if (u.username || u.password || u.search || u.hash) {
    throw configError(`${name} must be a plain base URL (no credentials, query or fragment), got "${value}"`);
  }
  if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) {
    throw configError(
      `${name}="${value}" is refused: plain http would send your ${provider} tokens in clear text; use https, or http on a loopback address (127.0.0.1, ::1, localhost) — or unset it`,
    );
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') {
    throw configError(`${name}="${value}" is refused: only https (or http on a loopback address) is accepted`);
  }
  return `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
}

const warned = new Set<string>();
let warn = (line: string): void => {
  try {
    process.stderr.write(line);
  } catch {
    // stderr gone: nothing to do
  }
};

/** Tests: capture the warning (and forget which were given); undefined restores stderr. */
export function onEndpointWarning(f: ((line: string) => void) | undefined): void {
  warned.clear();
  warn =
    f ??
    ((line) => {
      process.stderr.write(line);
    });
}

/** The provider's override, checked; undefined when not set. The first use in a process says so on stderr. */
export function endpointFor(provider: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const v = env[endpointVar(provider)];
  if (!v) return undefined;
  const base = checkEndpoint(provider, v);
  if (!warned.has(`${provider} ${base}`)) {
    warned.add(`${provider} ${base}`);
    warn(`lfs-bridge: warning: ${endpointVar(provider)} is set: ${provider} requests and logins go to ${base}\n`);
  }
  return base;
}

export function rebase(url: string, base: string | undefined): string {
  if (!base) return url;
  const u = new URL(url);
  const path = u.pathname === '/' && !url.endsWith('/') ? '' : u.pathname;
  return `${base}${path}${u.search}`;
}
