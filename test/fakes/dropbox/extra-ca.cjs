// One NODE_EXTRA_CA_CERTS file that trusts the fake's loopback certificate as well as the file `current` names.
// CommonJS so that .mocharc.cjs (which mocha loads before any TypeScript) and tls.ts share it.
// Node reads NODE_EXTRA_CA_CERTS (one file) only at process start.
const { createHash } = require('node:crypto');
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const LINK_CERT = join(__dirname, '..', '..', 'fixtures', 'tls', 'loopback-cert.pem');

function extraCaFile(current) {
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

module.exports = { LINK_CERT, extraCaFile };
