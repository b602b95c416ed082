import assert from 'node:assert/strict';
import { challengeS256, newPkce, newState, newVerifier } from '../../../src/oauth/pkce.js';

describe('oauth/pkce', () => {
  it('S256 matches RFC 7636 appendix B', () => {
    // The RFC's own vector (appendix B); the Dropbox fake checks challenges the same way.
    assert.equal(
      challengeS256('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'),
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });

  it('verifiers are 43 unreserved characters, fresh each time', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const v = newVerifier();
      assert.match(v, /^[A-Za-z0-9._~-]{43}$/);
      seen.add(v);
    }
    assert.equal(seen.size, 50);
  });

  it('newPkce pairs a verifier with its S256 challenge; states are random', () => {
    const p = newPkce();
    assert.equal(p.method, 'S256');
    assert.equal(p.challenge, challengeS256(p.verifier));
    assert.match(p.challenge, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(newState(), newState());
  });
});
