/** The provider contract against the local store: a folder on this machine. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseConfig } from '../../../../src/config/index.js';
import { createLogger } from '../../../../src/log.js';
import { loadProviderModule } from '../../../../src/providers/index.js';
import { objectKey } from '../../../../src/providers/layout.js';
import { providerContract } from './suite.js';

providerContract(
  'local',
  async () => {
    const root = await mkdtemp(join(tmpdir(), 'lfsb-contract-'));
    const mod = await loadProviderModule('local');
    const ctx = {
      config: parseConfig(
        new Map([
          ['lfs-bridge.provider', 'local'],
          ['lfs-bridge.root', root],
        ]),
      ),
      env: process.env,
      cwd: root,
      log: createLogger('test', {}, () => {}),
    };
    return {
      provider: await mod.create(ctx),
      another: () => mod.create(ctx),
      async putRaw(oid, bytes) {
        const path = join(root, ...objectKey(oid));
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, bytes);
      },
      close: () => rm(root, { recursive: true, force: true }),
    };
  },
  { faults: false },
);
