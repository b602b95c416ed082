#!/usr/bin/env node
// git-lfs starts `lfs-bridge transfer` once per concurrent worker, one after another: that path skips oclif
// (its core alone loads in about twice Node's own start-up) and goes straight to the agent.
if (process.argv[2] === 'transfer' && process.argv.length === 3) {
  const { main } = await import('../dist/bridge/main.js');
  await main();
} else {
  const { run, flush } = await import('@oclif/core');
  try {
    await run(process.argv.slice(2), import.meta.url);
    await flush();
  } catch (e) {
    // Every command's error is printed in one place and one format (src/cli/report-error.ts), not by oclif.
    const { reportError } = await import('../dist/cli/report-error.js');
    process.exit(await reportError(e));
  }
}
