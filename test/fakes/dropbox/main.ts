/**
 * Runs the fake Dropbox standalone (benchmarks, manual tests):
 *   node --import tsx test/fakes/dropbox/main.ts [--port N] [--data-dir DIR] [--app-key KEY] [--redirect-uri URI]…
 * Prints one JSON line {"url", "token", "refresh", "appKey", "dataDir"} on stdout, then serves until SIGTERM/SIGINT.
 * Control it over HTTP under /__fake/ (see server.ts).
 */
import { parseArgs } from 'node:util';
import { startFakeDropbox } from './server.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'data-dir': { type: 'string' },
    'app-key': { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true },
  },
});

const fake = await startFakeDropbox({
  port: values.port ? Number(values.port) : undefined,
  dataDir: values['data-dir'],
  appKey: values['app-key'],
  redirectUris: values['redirect-uri'],
});
const { access, refresh } = fake.issueToken();
process.stdout.write(
  JSON.stringify({ url: fake.url, token: access, refresh, appKey: fake.appKey, dataDir: fake.dataDir }) + '\n',
);

let closing = false;
const stop = () => {
  if (closing) return;
  closing = true;
  fake.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
