/**
 * Logging for every command, and the only writer to stderr on the transfer path. Quiet by default
 * (one-line errors), verbose with LFS_BRIDGE_DEBUG=1 or GIT_TRANSFER_TRACE (git-lfs strips GIT_TRACE from
 * the agent), and appended to LFS_BRIDGE_LOG when set. Every line passes through the secret mask.
 */
import { appendFileSync } from 'node:fs';

const secrets = new Set<string>();

/** Registers values that must never be printed (tokens, session URLs); they show as «redacted». */
export function maskInLogs(...values: (string | undefined)[]): void {
  for (const v of values) if (v && v.length >= 8) secrets.add(v);
}

export function redact(text: string): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join('«redacted»');
  // Belt and braces: bearer headers and token-looking query parameters never leave in clear.
  return out
    .replace(/(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/gi, '$1«redacted»')
    .replace(/((?:access_token|refresh_token|code|upload_id|session_id)=)[^&\s"]+/gi, '$1«redacted»');
}

const truthy = (v: string | undefined) => !!v && v !== '0' && v.toLowerCase() !== 'false';

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  error(msg: string): void;
  readonly verbose: boolean;
}

export function createLogger(
  tag: string,
  env: NodeJS.ProcessEnv = process.env,
  write: (s: string) => void = (s) => process.stderr.write(s),
): Logger {
  const verbose = truthy(env.LFS_BRIDGE_DEBUG) || truthy(env.GIT_TRANSFER_TRACE);
  const file = env.LFS_BRIDGE_LOG;
  const line = (level: string, msg: string) => {
    const text = `${redact(msg)}\n`;
    if (level === 'error' || verbose) {
      try {
        write(`lfs-bridge ${tag}: ${text}`);
      } catch {
        // stderr gone: nothing to do
      }
    }
    if (file) {
      try {
        appendFileSync(file, `${new Date().toISOString()} ${process.pid} ${tag} ${level}: ${text}`, { mode: 0o600 });
      } catch {
        // a broken log file must not break a transfer
      }
    }
  };
  return {
    verbose,
    debug: (m) => line('debug', m),
    info: (m) => line('info', m),
    error: (m) => line('error', m),
  };
}
