/**
 * The suite's own rules (.mocharc.json): a skipped or pending test, or a forgotten `.only`, fails the run; a
 * documented platform case (test/helpers/platform.ts) is left out and named instead.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../helpers/run.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PLATFORM = fileURLToPath(new URL('../helpers/platform.ts', import.meta.url));

describe('the suite rules (.mocharc.json)', function () {
  this.timeout(60_000);
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lfsb-rules-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** Mocha as `npm test` runs it (the project's .mocharc.json), on one spec file. */
  async function mocha(name: string, spec: string) {
    const file = join(dir, `${name}.test.ts`);
    await writeFile(file, spec);
    return run(process.execPath, [join(ROOT, 'node_modules/mocha/bin/mocha.js'), file], {
      cwd: ROOT,
      env: process.env,
      timeoutMs: 60_000,
    });
  }

  for (const [name, spec] of [
    ['skip', "it('skips itself', function () { this.skip(); });\nit('passes', () => {});\n"],
    ['pending', "it.skip('is pending', () => {});\nit('has no body');\nit('passes', () => {});\n"],
  ])
    it(`a ${name === 'skip' ? 'test that skips itself' : 'pending test'} fails the run`, async () => {
      const r = await mocha(name, spec);
      assert.notEqual(r.code, 0, r.output);
      assert.match(r.output, /Pending test forbidden/);
    });

  it('a forgotten .only fails the run', async () => {
    const r = await mocha('only', "it.only('alone', () => {});\nit('forgotten', () => {});\n");
    assert.notEqual(r.code, 0, r.output);
    assert.match(r.output, /`.only` forbidden/);
  });

  it('a platform case that cannot run here is not registered, and named', async () => {
    const r = await mocha(
      'platform',
      `import { itWhere } from ${JSON.stringify(PLATFORM)};\n` +
        "itWhere(false, 'another OS', 'runs elsewhere', () => { throw new Error('ran'); });\n" +
        "itWhere(true, 'this OS', 'runs here', () => {});\n",
    );
    assert.equal(r.code, 0, r.output);
    assert.match(r.output, /^platform case not run here: runs elsewhere \(needs another OS\)$/m);
    assert.match(r.output, /1 passing/);
    assert.doesNotMatch(r.output, /pending/);
  });
});
