/**
 * The documented platform cases: a test that cannot run on this machine (another OS, no IPv6 loopback) is not
 * registered at all, never left pending — .mocharc.json forbids pending tests, so any other skip fails the run.
 * Each case left out is printed as one `platform case not run here: …` line, which scripts/test.sh counts as
 * skipped.
 */
export function itWhere(available: boolean, needs: string, title: string, fn: Mocha.AsyncFunc | Mocha.Func): void {
  if (available) it(title, fn);
  else console.log(`platform case not run here: ${title} (needs ${needs})`);
}
