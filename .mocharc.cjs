// Mocha reads this file first; the options themselves stay in .mocharc.json.
// The fake Dropbox serves temporary links over https with the committed loopback certificate, as Dropbox does.
// Node reads NODE_EXTRA_CA_CERTS (one file) only at process start; mocha's own process (node-option) and everything
// the tests start (git, git-lfs, the agent) inherit it from here: the certificate, plus any file already named there.
const { createHash } = require('node:crypto');
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const ours = join(__dirname, 'test', 'fixtures', 'tls', 'loopback-cert.pem');
const given = process.env.NODE_EXTRA_CA_CERTS;
if (!given) process.env.NODE_EXTRA_CA_CERTS = ours;
else if (given !== ours && !given.includes('lfs-bridge-test-ca-')) {
  let pem = readFileSync(ours, 'utf8');
  try {
    pem = `${readFileSync(given, 'utf8').trimEnd()}\n${pem}`;
  } catch {
    // unreadable: Node would only warn about it; ours alone then
  }
  const file = join(tmpdir(), `lfs-bridge-test-ca-${createHash('sha256').update(pem).digest('hex').slice(0, 16)}.pem`);
  writeFileSync(`${file}.${process.pid}`, pem);
  renameSync(`${file}.${process.pid}`, file);
  process.env.NODE_EXTRA_CA_CERTS = file;
}
module.exports = require('./.mocharc.json');
