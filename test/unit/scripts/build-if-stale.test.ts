/**
 * scripts/build-if-stale.mjs, the `prepare` script, in a throwaway project whose `build` only counts its runs:
 * it builds when dist is missing or older than the sources (a deleted source too), not otherwise; and under
 * `npm install -g <git url>` it puts back the install folder that npm's global preparation swapped for a link.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PROJECT = fileURLToPath(new URL('../../..', import.meta.url));

const build = `node -e "const f=require('fs');f.mkdirSync('dist/bridge',{recursive:true});f.writeFileSync('dist/bridge/main.js','');f.appendFileSync('builds','x');f.writeFileSync('oclif.manifest.json','{}')"`;

async function project(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lfs-bridge-prepare-'));
  mkdirSync(join(dir, 'scripts'));
  copyFileSync(join(PROJECT, 'scripts', 'build-if-stale.mjs'), join(dir, 'scripts', 'build-if-stale.mjs'));
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'lfs-bridge', version: '0.0.0', scripts: { build } }),
  );
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'a.ts'), '');
  writeFileSync(join(dir, 'src', 'b.ts'), '');
  // the build's own dependencies are "installed": no npm ci here
  mkdirSync(join(dir, 'node_modules', 'typescript'), { recursive: true });
  writeFileSync(join(dir, 'node_modules', 'typescript', 'package.json'), '{}');
  return dir;
}

function prepare(dir: string, env: NodeJS.ProcessEnv = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
  const r = spawnSync(process.execPath, ['scripts/build-if-stale.mjs'], {
    cwd: dir,
    env: { ...clean, ...env },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  return existsSync(join(dir, 'builds')) ? readFileSync(join(dir, 'builds'), 'utf8').length : 0;
}

/** Sets a file's or folder's mtime `s` seconds into the past (stays older than what comes next). */
const age = (p: string, s: number) => {
  const t = new Date(Date.now() - s * 1000);
  utimesSync(p, t, t);
};

describe('scripts/build-if-stale.mjs (prepare)', function () {
  this.timeout(60_000);
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('builds when dist is missing or older than a source, a deleted source included; otherwise not', async () => {
    const dir = await project();
    dirs.push(dir);
    assert.equal(prepare(dir), 1, 'no dist: build');
    assert.equal(prepare(dir), 1, 'current: no build');
    for (const p of ['package.json', 'src', 'src/a.ts', 'src/b.ts']) age(join(dir, p), 60);
    writeFileSync(join(dir, 'src', 'a.ts'), 'changed');
    assert.equal(prepare(dir), 2, 'a source newer than the build: build');
    for (const p of ['src', 'src/a.ts']) age(join(dir, p), 60);
    assert.equal(prepare(dir), 2);
    rmSync(join(dir, 'src', 'b.ts'));
    assert.equal(prepare(dir), 3, 'a deleted source: build');
    rmSync(join(dir, 'dist'), { recursive: true });
    assert.equal(prepare(dir), 4, 'dist gone: build');
  });

  it('an installed copy (no sources) never builds', async () => {
    const dir = await project();
    dirs.push(dir);
    rmSync(join(dir, 'src'), { recursive: true });
    assert.equal(prepare(dir), 0);
  });

  it('under a global git install: the folder npm retired comes back in place of the link to the clone', async () => {
    const dir = await project();
    dirs.push(dir);
    const prefix = join(dir, 'prefix');
    const target = join(prefix, 'lib', 'node_modules', 'lfs-bridge');
    const hash = createHash('sha1')
      .update(target)
      .digest('base64')
      .replace(/[^a-zA-Z0-9]+/g, '')
      .slice(0, 8);
    const retired = join(dirname(target), `.${basename(target)}-${hash}`);
    mkdirSync(join(retired, 'node_modules', 'undici'), { recursive: true });
    symlinkSync(dir, target);
    assert.equal(prepare(dir, { npm_config_global: 'true', npm_config_global_prefix: prefix }), 1);
    assert.ok(lstatSync(target).isDirectory() && !lstatSync(target).isSymbolicLink(), 'a folder again');
    assert.ok(existsSync(join(target, 'node_modules', 'undici')), 'with what npm had unpacked into it');
    assert.ok(!existsSync(retired));
  });

  it('a global link that is not to this clone is left alone', async () => {
    const dir = await project();
    const other = await project();
    dirs.push(dir, other);
    const prefix = join(dir, 'prefix');
    const target = join(prefix, 'lib', 'node_modules', 'lfs-bridge');
    mkdirSync(dirname(target), { recursive: true });
    symlinkSync(other, target);
    prepare(dir, { npm_config_global: 'true', npm_config_global_prefix: prefix });
    assert.ok(lstatSync(target).isSymbolicLink());
  });
});
