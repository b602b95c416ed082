// Mocha reads this file first; the options themselves stay in .mocharc.json.
// The fake Dropbox serves temporary links over https with the committed loopback certificate, as Dropbox does:
// mocha's own process (node-option) and everything the tests start (git, git-lfs, the agent) trust it through
// NODE_EXTRA_CA_CERTS, set here before any of them starts.
const { extraCaFile } = require('./test/fakes/dropbox/extra-ca.cjs');

process.env.NODE_EXTRA_CA_CERTS = extraCaFile(process.env.NODE_EXTRA_CA_CERTS);
module.exports = require('./.mocharc.json');
