/**
 * The import direction of docs/architecture.md, checked on the static imports of src/: commands → repo → bridge →
 * providers → http / oauth / keychain → lib, io, hash, errors. Lazy `import()`s of a registry are not arrows.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/**
 * The first folder under src/ (or the file's name for top-level files). The provider registry is plain data that
 * imports nothing (a test in providers/index.test.ts holds it to that): an area of its own, which config reads.
 */
const area = (abs: string) => {
  const rel = relative(SRC, abs);
  return rel === 'providers/registry.ts' ? 'registry' : rel.split('/')[0].replace(/\.ts$/, '');
};

const edges: { from: string; to: string; file: string }[] = [];
for (const f of files(SRC)) {
  const text = readFileSync(f, 'utf8');
  for (const m of text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)) {
    const target = resolve(dirname(f), m[1]).replace(/\.js$/, '.ts');
    edges.push({ from: area(f), to: area(target), file: relative(SRC, f) });
  }
}

describe('import graph of src/', () => {
  it('generic code imports neither the bridge nor the providers', () => {
    const low = ['oauth', 'http', 'keychain', 'lib', 'hash', 'io'];
    const bad = edges.filter((e) => low.includes(e.from) && ['bridge', 'providers', 'repo', 'commands'].includes(e.to));
    assert.deepEqual(bad, []);
  });

  it('providers import neither the bridge, repo nor commands', () => {
    const bad = edges.filter((e) => e.from === 'providers' && ['bridge', 'repo', 'commands'].includes(e.to));
    assert.deepEqual(bad, []);
  });

  it('no cycles between folders', () => {
    const next = new Map<string, Set<string>>();
    for (const e of edges) if (e.from !== e.to) next.set(e.from, (next.get(e.from) ?? new Set()).add(e.to));
    const cycles: string[] = [];
    const walk = (n: string, path: string[]) => {
      for (const m of next.get(n) ?? []) {
        if (path.includes(m)) cycles.push([...path.slice(path.indexOf(m)), m].join(' → '));
        else walk(m, [...path, m]);
      }
    };
    for (const n of next.keys()) walk(n, [n]);
    assert.deepEqual(cycles, []);
  });
});
