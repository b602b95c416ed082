#!/usr/bin/env node
// git-lfs starts `lfs-bridge transfer` once per concurrent worker, one after another: that path skips oclif
// (its core alone loads in about twice Node's own start-up) and goes straight to the agent.
if (process.argv[2] === 'transfer' && process.argv.length === 3) {
  const { main } = await import('../dist/bridge/main.js');
  await main();
} else {
  const { execute } = await import('@oclif/core');
  await execute({ dir: import.meta.url });
}
