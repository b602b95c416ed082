#!/usr/bin/env node
// `npm run build`, only when dist/ is missing or older than its sources. It is the `prepare` script: npm runs it
// when it installs lfs-bridge from a git URL and on every `npm ci` / `npm install` in a checkout, where a build
// that is already current would only cost time.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, realpathSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// An installed copy has no sources: it was built before it was packed (npm may still run `prepare` in it when
// told to allow lfs-bridge's scripts).
if (!existsSync(join(root, 'src'))) process.exit(0);

// The build's last step writes the manifest: its mtime is when the last complete build finished.
const stamp = join(root, 'oclif.manifest.json');
const inputs = ['src', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json'];

/** Newest mtime under `p`; folders count too (a deleted source changes its folder's mtime). */
function newest(p) {
  if (!existsSync(p)) return 0;
  const st = statSync(p);
  if (!st.isDirectory()) return st.mtimeMs;
  let t = st.mtimeMs;
  for (const name of readdirSync(p)) t = Math.max(t, newest(join(p, name)));
  return t;
}

const built = existsSync(stamp) && existsSync(join(root, 'dist', 'bridge', 'main.js')) ? statSync(stamp).mtimeMs : 0;
const sources = Math.max(...inputs.map((f) => newest(join(root, f))));
if (built && built >= sources && process.env.LFS_BRIDGE_FORCE_BUILD !== '1') process.exit(0);

// Run by npm, which says where it is (npm_execpath): no PATH lookup, no npm.cmd on Windows.
const npmCli = process.env.npm_execpath;
const npm = (args, env = process.env) =>
  npmCli
    ? spawnSync(process.execPath, [npmCli, ...args], { cwd: root, stdio: 'inherit', env })
    : spawnSync('npm', args, { cwd: root, stdio: 'inherit', env, shell: process.platform === 'win32' });

// `npm install -g <git url>` prepares its clone of the repository with an `npm install` that inherits the global
// settings (npm 11 still does). So that install (1) moves the folder the real install is unpacking into (with the
// dependencies it has unpacked so far) aside to npm's "retired" name and links that path to this temporary clone,
// which npm deletes afterwards; (2) leaves the dependencies out. Undo (1): put the folder back in place of the
// link. For (2), install the dependencies here, in the clone, from the lock file, without scripts (this one too).
const globalPrefix = process.env.npm_config_global === 'true' ? process.env.npm_config_global_prefix : undefined;
/** Where npm moves a folder it replaces until the install is done (its retire-path: `.<name>-<8 of sha1>`). */
const retiredPath = (p) =>
  join(
    dirname(p),
    `.${basename(p)}-${createHash('sha1')
      .update(p)
      .digest('base64')
      .replace(/[^a-zA-Z0-9]+/g, '')
      .slice(0, 8)}`,
  );
if (globalPrefix) {
  for (const dir of [
    join(globalPrefix, 'lib', 'node_modules', 'lfs-bridge'),
    join(globalPrefix, 'node_modules', 'lfs-bridge'),
  ]) {
    let ours = false;
    try {
      ours = lstatSync(dir).isSymbolicLink() && realpathSync(dir) === realpathSync(root);
    } catch {
      // not there: nothing to undo
    }
    if (!ours) continue;
    unlinkSync(dir);
    if (existsSync(retiredPath(dir))) renameSync(retiredPath(dir), dir);
    else mkdirSync(dir);
  }
}
if (!existsSync(join(root, 'node_modules', 'typescript', 'package.json'))) {
  // Only the settings that say where packages come from pass on (not global, prefix, allow-scripts...).
  const keep =
    /^npm_config_(cache|userconfig|globalconfig|registry|.*:registry|.*proxy|cafile|ca|strict_ssl|fetch_.*)$/i;
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^npm_config_/i.test(k) && !keep.test(k)) delete env[k];
  const ci = npm(['ci', '--include=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], env);
  if (ci.status !== 0) {
    console.error('lfs-bridge: cannot install the dependencies the build needs (npm ci failed, see above)');
    process.exit(ci.status || 1);
  }
}

const r = npm(['run', 'build', '--silent']);
if (r.status !== 0) {
  console.error(
    r.error
      ? `lfs-bridge: cannot run npm to build: ${r.error.message}`
      : 'lfs-bridge: the build failed (see above); dev dependencies missing? run npm ci first',
  );
  process.exit(r.status || 1);
}
