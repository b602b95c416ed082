// The coverage map printed by scripts/test.sh: which files of src/ the suite never runs, and which it runs least.
// Reads c8's coverage/coverage-summary.json (unit tests in process, plus every agent and CLI the e2e tests spawn,
// mapped back from dist/ to src/ by the build's source maps). No threshold: a map of what is untested.
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;
const SHOWN_BELOW = 80;
const summary = JSON.parse(readFileSync(`${ROOT}coverage/coverage-summary.json`, 'utf8'));
/** A module of types only compiles to nothing: no line of it can run. */
const typesOnly = (file) => {
  const js = `${ROOT}dist/${file.replace(/^src\//, '').replace(/\.ts$/, '.js')}`;
  return existsSync(js) && /^\s*(export \{\};)?\s*(\/\/# sourceMappingURL=\S+)?\s*$/.test(readFileSync(js, 'utf8'));
};
const files = Object.entries(summary)
  .filter(([k]) => k !== 'total')
  .map(([k, v]) => ({ file: relative(ROOT, k), ...v.lines }))
  .filter((f) => f.file.startsWith('src/') && !typesOnly(f.file));
const lines = files.reduce((a, f) => ({ total: a.total + f.total, covered: a.covered + f.covered }), {
  total: 0,
  covered: 0,
});
const pct = (c, t) => (t ? (100 * c) / t : 100).toFixed(1);
console.log(
  `\ncoverage of src/ (lines run by unit tests and by the agents and CLIs the e2e tests spawn): ` +
    `${pct(lines.covered, lines.total)}% of ${lines.total}; full report: coverage/index.html`,
);
const never = files.filter((f) => f.total > 0 && f.covered === 0).map((f) => f.file);
console.log(`never run (${never.length} files): ${never.length ? never.join(', ') : 'none'}`);
const partly = files
  .filter((f) => f.covered > 0 && f.pct < SHOWN_BELOW)
  .sort((a, b) => b.total - b.covered - (a.total - a.covered));
console.log(`run least (under ${SHOWN_BELOW}% of lines, most untested lines first):${partly.length ? '' : ' none'}`);
for (const f of partly)
  console.log(
    `  ${String(f.total - f.covered).padStart(5)} lines untested  ${f.pct.toFixed(1).padStart(5)}%  ${f.file}`,
  );
