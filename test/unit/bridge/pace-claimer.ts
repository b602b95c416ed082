/** Helper process for pace.test.ts: claims N requests of a shared budget and prints their due times (JSON). */
import { sharedPace } from '../../../src/bridge/pace.js';

const [folder, rate, count] = process.argv.slice(2);
const dues: number[] = [];
let base = 0;
let due = 0;
const pace = sharedPace(folder as string, {
  requestsPerSecond: Number(rate),
  now: () => base,
  // Record when each request would go out instead of waiting for it.
  sleep: async (ms) => {
    due = base + ms;
  },
});
for (let i = 0; i < Number(count); i++) {
  base = Date.now();
  due = base;
  await pace.ready();
  dues.push(due);
}
process.stdout.write(JSON.stringify(dues));
