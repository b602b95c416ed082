// The benchmark baseline: the least a git-lfs standalone custom transfer agent can do (docs/protocol.md "Messages").
// Upload copies `path` to <store>/<oid>; download copies <store>/<oid> to a unique file in <lfs>/tmp and hands
// it over. No hashing, no locks, no resume, one progress event per object; no fsync unless `--fsync` (an
// informational baseline that pays for durability as our agent does). Plain JavaScript run by plain `node` (no
// tsx loader), so its start-up is Node's own. Usage: node copy-agent.mjs <store> [--fsync]
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, open } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const store = process.argv[2];
if (!store) {
  process.stderr.write('usage: copy-agent.mjs <store>\n');
  process.exit(2);
}
const durable = process.argv[3] === '--fsync';
const send = (msg) => process.stdout.write(`${JSON.stringify(msg)}\n`);
let seq = 0;
let tmpDir;

/** <lfs>/tmp, found as git-lfs finds it: lfs.storage, else <common dir>/lfs (cwd may be a subdirectory). */
function lfsTmp() {
  if (tmpDir) return tmpDir;
  const git = (args) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  const common = git(['rev-parse', '--path-format=absolute', '--git-common-dir']);
  let storage = '';
  try {
    storage = git(['config', '--get', 'lfs.storage']);
  } catch {
    // not set
  }
  const lfs = storage ? (isAbsolute(storage) ? storage : resolve(common, storage)) : join(common, 'lfs');
  tmpDir = join(lfs, 'tmp');
  return tmpDir;
}

async function copy(from, to) {
  await copyFile(from, to);
  if (!durable) return;
  const fh = await open(to, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function serve(msg) {
  const { oid, size } = msg;
  try {
    let path;
    if (msg.event === 'upload') {
      await copy(msg.path, join(store, oid));
    } else {
      const dir = lfsTmp();
      await mkdir(dir, { recursive: true });
      path = join(dir, `copy-agent-${oid}-${process.pid}-${seq++}`);
      await copy(join(store, oid), path);
    }
    send({ event: 'progress', oid, bytesSoFar: size, bytesSinceLast: size });
    send(path ? { event: 'complete', oid, path } : { event: 'complete', oid });
  } catch (e) {
    send({ event: 'complete', oid, error: { code: 500, message: String(e.message ?? e) } });
  }
}

// Requests are served strictly in order, one at a time (git-lfs sends the next one after the `complete`).
let chain = Promise.resolve();
const rl = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
rl.on('line', (line) => {
  if (!line.trim()) return;
  const msg = JSON.parse(line);
  chain = chain.then(async () => {
    if (msg.event === 'init') send({});
    else if (msg.event === 'upload' || msg.event === 'download') await serve(msg);
    else if (msg.event === 'terminate') process.exit(0);
  });
});
rl.on('close', () => {
  chain = chain.then(() => process.exit(0));
});
