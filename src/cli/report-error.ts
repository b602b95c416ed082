/**
 * How a command's failure reaches the person who ran it, for every command (bin/run.js sends here whatever
 * oclif lets through): `lfs-bridge: <what failed>`, then the fix on a line of its own where there is one. No
 * class names, no internal codes, no re-wrapping at the terminal's width (a long line is the terminal's to wrap;
 * numbered steps keep their own line breaks); the stack and the causes only with LFS_BRIDGE_DEBUG.
 *
 * The agent's protocol messages (`complete` error.message) are another channel and do not pass through here.
 */
import { BridgeError } from '../errors.js';
import { fsReason } from '../fsutil.js';

export interface ErrorReport {
  /** What failed, without the "lfs-bridge: " prefix (may span lines, e.g. numbered steps). */
  what: string;
  /** How to fix it, where known. */
  fix?: string;
  exitCode: number;
}

type Errno = NodeJS.ErrnoException & { hostname?: string; address?: string; port?: number; dest?: string };

const truthy = (v: string | undefined) => !!v && v !== '0' && v.toLowerCase() !== 'false';

/** What went wrong on the way to a server, in words. */
const netReasons: Record<string, string> = {
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name lookup failed (DNS not answering)',
  ECONNREFUSED: 'the connection was refused',
  ECONNRESET: 'the connection was reset',
  ETIMEDOUT: 'the connection timed out',
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
  UND_ERR_HEADERS_TIMEOUT: 'the server did not answer in time',
  UND_ERR_BODY_TIMEOUT: 'the server stopped sending',
  UND_ERR_SOCKET: 'the connection closed unexpectedly',
  EPIPE: 'the connection was closed',
  ENETUNREACH: 'the network is unreachable',
  EHOSTUNREACH: 'there is no route to the host',
  ENETDOWN: 'the network is down',
  ECONNABORTED: 'the connection was aborted',
};

/** Node's TLS verification codes (openssl's names, plus Node's own host-name check). */
const isCertCode = (code: string) =>
  /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|UNABLE_TO_GET_CRL|ERR_TLS_/.test(code);

const fsVerbs: Record<string, string> = {
  mkdir: 'create',
  mkdtemp: 'create',
  open: 'open',
  read: 'read',
  write: 'write',
  stat: 'read',
  lstat: 'read',
  fstat: 'read',
  access: 'access',
  scandir: 'list',
  opendir: 'list',
  readdir: 'list',
  rename: 'rename',
  unlink: 'remove',
  rmdir: 'remove',
  rm: 'remove',
  copyfile: 'copy',
  chmod: 'change the permissions of',
  fsync: 'save',
  ftruncate: 'truncate',
  symlink: 'link',
  link: 'link',
  utime: 'touch',
};

/** The errors `e` was caused by, `e` first (cycles cut). */
function chain(e: unknown): unknown[] {
  const out: unknown[] = [];
  for (let cur = e; cur !== undefined && cur !== null && !out.includes(cur); cur = (cur as Error).cause) out.push(cur);
  return out;
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** The host the failed request was for: the URL the HTTP layer puts in front of its errors, else the socket's. */
function hostOf(errors: unknown[]): string | undefined {
  for (const e of errors) {
    const m = /\bhttps?:\/\/([^/\s?#]+)/.exec(messageOf(e));
    if (m) return m[1];
  }
  for (const e of errors) {
    const x = e as Errno;
    if (x?.hostname) return x.hostname;
    if (x?.address) return x.port ? `${x.address}:${x.port}` : x.address;
  }
  return undefined;
}

/** "cannot reach <host>: <reason> — check the connection or HTTPS_PROXY", when a network failure is behind `e`. */
export function describeNetworkError(e: unknown): ErrorReport | undefined {
  const errors = chain(e);
  for (const x of errors) {
    const code = (x as Errno)?.code;
    const name = (x as Error)?.name;
    let reason: string | undefined;
    let fix: string | undefined;
    if (typeof code === 'string' && netReasons[code]) reason = netReasons[code];
    else if (typeof code === 'string' && isCertCode(code)) {
      reason = `its TLS certificate is not trusted (${code})`;
      fix = 'behind a proxy that inspects TLS, point NODE_EXTRA_CA_CERTS at its CA certificate';
    } else if (name === 'TimeoutError') reason = 'no answer in time';
    if (!reason) continue;
    const host = hostOf(errors) ?? 'the server';
    return { what: `cannot reach ${host}: ${reason} — check the connection or HTTPS_PROXY`, fix, exitCode: 1 };
  }
  return undefined;
}

/** "cannot create /x: permission denied", for a file-system error from Node (or one wrapped without rewording). */
export function describeFsError(e: unknown): ErrorReport | undefined {
  const errors = chain(e);
  const sys = errors.find((x) => {
    const s = x as Errno;
    return typeof s?.code === 'string' && typeof s.syscall === 'string' && typeof s.path === 'string';
  }) as Errno | undefined;
  if (!sys) return undefined;
  // A wrapper that said something of its own (not just "<context>: <raw message>") keeps its words.
  if (sys !== e && !messageOf(e).endsWith(sys.message)) return undefined;
  const code = sys.code!;
  const syscall = sys.syscall!;
  if (syscall.startsWith('spawn')) {
    const what = code === 'ENOENT' ? 'not found (is it installed and on PATH?)' : (fsReason(code) ?? code);
    return { what: `cannot run ${sys.path}: ${what}`, exitCode: 1 };
  }
  const verb = fsVerbs[syscall] ?? syscall;
  const target = sys.dest ? `${sys.path} to ${sys.dest}` : sys.path;
  return { what: `cannot ${verb} ${target}: ${fsReason(code) ?? code}`, exitCode: 1 };
}

/** The report for anything a command threw. */
export function describeError(e: unknown): ErrorReport {
  const oclif = (e as { oclif?: { exit?: number } })?.oclif;
  const exitCode = typeof oclif?.exit === 'number' ? oclif.exit : 1;
  const net = describeNetworkError(e);
  if (net) return net;
  const fs = describeFsError(e);
  if (fs) return fs;
  if (e instanceof BridgeError) return { what: e.what, fix: e.hint, exitCode };
  const suggestions = (e as { suggestions?: string[] })?.suggestions;
  const what = messageOf(e).replace(/\s+$/, '') || 'failed';
  return { what, fix: suggestions?.length ? suggestions.join('\n') : undefined, exitCode };
}

/** The text to print: two lines at most without LFS_BRIDGE_DEBUG; with it, the stack and every cause too. */
export function errorText(e: unknown, env: NodeJS.ProcessEnv = process.env): string {
  const r = describeError(e);
  const lines = [`lfs-bridge: ${r.what}`];
  if (r.fix) lines.push(r.fix);
  if (truthy(env.LFS_BRIDGE_DEBUG)) {
    for (const [i, x] of chain(e).entries()) {
      const stack = x instanceof Error ? (x.stack ?? `${x.name}: ${x.message}`) : String(x);
      lines.push(`${i ? 'caused by: ' : ''}${stack}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** True for oclif's "exit with this code, print nothing" (this.exit) and for errors someone already printed. */
function silent(e: unknown): boolean {
  const x = e as { code?: unknown; skipOclifErrorHandling?: boolean };
  return x?.code === 'EEXIT' || x?.skipOclifErrorHandling === true;
}

/** Prints the report for `e` on stderr and returns the exit code. */
export async function reportError(e: unknown, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const exitCode = describeError(e).exitCode;
  if (silent(e)) return exitCode;
  const { redact } = await import('../log.js');
  const text = redact(errorText(e, env));
  await new Promise<void>((resolve) => process.stderr.write(text, () => resolve()));
  return exitCode;
}
