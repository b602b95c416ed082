/**
 * What the README promises about installing agrees with package.json, and the install and build stay quiet:
 * no oclif update notice from the build, no npm note about esbuild's install script.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const read = (f: string) => readFileSync(new URL(`../../${f}`, import.meta.url), 'utf8');
const pkg = JSON.parse(read('package.json')) as {
  engines: { node: string };
  scripts: Record<string, string>;
  allowScripts?: Record<string, boolean>;
  files: string[];
};
const readme = read('README.md');

describe('package.json and README', () => {
  it('name the same Node version', () => {
    const engines = /^>=(\d+\.\d+\.\d+)$/.exec(pkg.engines.node);
    assert.ok(engines, pkg.engines.node);
    const said = /Needs Node\.js (\d+\.\d+\.\d+) or newer/.exec(readme);
    assert.ok(said, 'README names a Node version');
    assert.equal(said[1], engines[1]);
  });

  it('document --insecure-storage in the LFS_BRIDGE_INSECURE_STORAGE row', () => {
    const row = readme.split('\n').find((l) => l.startsWith('| `LFS_BRIDGE_INSECURE_STORAGE=1`'));
    assert.ok(row?.includes('--insecure-storage'), row);
  });

  it('install from a git URL: a prepare build that ships with the package, and the README says so', () => {
    assert.equal(pkg.scripts.prepare, 'node scripts/build-if-stale.mjs');
    assert.ok(pkg.files.includes('scripts/build-if-stale.mjs'));
    assert.equal(pkg.scripts.prepack, undefined, 'npm pack runs prepare already: no second build');
    assert.match(readme, /npm install -g git\+https:/);
  });

  it('quiet: the build skips oclif update check, esbuild postinstall is denied', () => {
    assert.match(pkg.scripts.build!, /OCLIF_SKIP_NEW_VERSION_CHECK=true oclif manifest/);
    assert.equal(pkg.allowScripts?.esbuild, false);
    const npmrc = read('.npmrc');
    for (const line of ['fund=false', 'audit=false', 'update-notifier=false']) assert.ok(npmrc.includes(line), line);
  });
});
