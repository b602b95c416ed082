/** The provider contract against the project's fake Dropbox API on 127.0.0.1 (test/fakes/dropbox). */
import { DropboxProvider } from '../../../../src/providers/dropbox/provider.js';
import { objectKey } from '../../../../src/providers/layout.js';
import { startFakeDropbox } from '../../../fakes/dropbox/server.js';
import { providerContract } from './suite.js';

const ROOT = '/lfs/contract';

providerContract(
  'dropbox',
  async () => {
    const fake = await startFakeDropbox();
    const env = { LFS_BRIDGE_DROPBOX_ENDPOINT: fake.url };
    let token = fake.issueToken().access;
    const tokens = async (force?: boolean) => {
      if (force) token = fake.issueToken().access;
      return token;
    };
    const make = async () => new DropboxProvider('default', ROOT, tokens, env);
    return {
      provider: await make(),
      another: make,
      async putRaw(oid, bytes) {
        fake.files.put(`${ROOT}/${objectKey(oid).join('/')}`, bytes);
      },
      loseNextAnswer(what) {
        // Dropbox's last chunk does not commit (finish does): only a lost finish answer applies.
        if (what === 'finish')
          fake.faults.add({ route: '/2/files/upload_session/finish', action: { kind: 'commit-then-drop' } });
      },
      ignoreNextRange: () => fake.faults.add({ route: '/link/*', action: { kind: 'ignore-range' } }),
      failNextStat(how) {
        const route = '/2/files/get_metadata';
        if (how === 'rate-limit')
          fake.faults.add({ route, action: { kind: 'status', status: 429, headers: { 'Retry-After': '3' } } });
        else if (how === 'server-error') fake.faults.add({ route, action: { kind: 'status', status: 503 } });
        else
          fake.faults.add({
            route,
            times: 2, // the provider refreshes once on a 401; a login the server refuses again is Auth
            action: {
              kind: 'status',
              status: 401,
              body: JSON.stringify({
                error_summary: 'invalid_access_token/..',
                error: { '.tag': 'invalid_access_token' },
              }),
            },
          });
      },
      expireSessions: () => fake.expireSessions(),
      close: () => fake.close(),
    };
  },
  { faults: true },
);
