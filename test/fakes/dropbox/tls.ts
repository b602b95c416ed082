/**
 * The certificate of the fake's temporary-link host (https, as Dropbox's content hosts): the committed loopback
 * certificate of test/fixtures/tls. Processes that download from the fake must trust it through
 * NODE_EXTRA_CA_CERTS, which Node reads only at start and which names one file (.mocharc.cjs does the same for
 * mocha; the benchmarks use `extraCaFile`).
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TLS_DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'tls');
export const LINK_CERT = join(TLS_DIR, 'loopback-cert.pem');
export const LINK_KEY = join(TLS_DIR, 'loopback-key.pem');

/** A NODE_EXTRA_CA_CERTS value trusting the fake's certificate as well as the file `current` names (if any). */
export function extraCaFile(current: string | undefined): string {
  if (!current || current === LINK_CERT || current.includes('lfs-bridge-test-ca-')) return current || LINK_CERT;
  let pem = readFileSync(LINK_CERT, 'utf8');
  try {
    pem = `${readFileSync(current, 'utf8').trimEnd()}\n${pem}`;
  } catch {
    // unreadable: Node would only warn about it; ours alone then
  }
  const file = join(tmpdir(), `lfs-bridge-test-ca-${createHash('sha256').update(pem).digest('hex').slice(0, 16)}.pem`);
  writeFileSync(`${file}.${process.pid}`, pem);
  renameSync(`${file}.${process.pid}`, file);
  return file;
}
