/**
 * The certificate of the fake's temporary-link host (https, as Dropbox's content hosts): the committed loopback
 * certificate of test/fixtures/tls. Processes that download from the fake must trust it through
 * NODE_EXTRA_CA_CERTS, which Node reads only at start and which names one file (.mocharc.cjs does the same for
 * mocha; the benchmarks use `extraCaFile`).
 */
import { createRequire } from 'node:module';
import { join } from 'node:path';

const shared = createRequire(import.meta.url)('./extra-ca.cjs') as {
  LINK_CERT: string;
  extraCaFile(current: string | undefined): string;
};

export const TLS_DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'tls');
export const LINK_CERT = shared.LINK_CERT;
export const LINK_KEY = join(TLS_DIR, 'loopback-key.pem');

/** A NODE_EXTRA_CA_CERTS value trusting the fake's certificate as well as the file `current` names (if any). */
export const extraCaFile = (current: string | undefined): string => shared.extraCaFile(current);
