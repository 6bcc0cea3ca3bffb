// `npm run fuzz`: the parser fuzzers of test/fuzz-parsers.test.ts, longer and
// with a fresh seed. Each failing input is saved under test/fixtures/fuzz/<target>/
// (replayed by `npm test` from then on); commit it with the fix.
//
//   npm run fuzz -- [--runs 5000] [--seed <n>] [--target safetensors,coco,...] [--minutes 10]
//
// Prints one JSON line per target (runs, loads, refusals by code, ms, failure)
// and exits 1 when any input broke the invariant.
import { parseArgs } from 'node:util';
import { fuzz } from '../test/fuzz/harness.js';
import { targets } from '../test/fuzz/targets.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5000' },
    seed: { type: 'string' },
    target: { type: 'string' },
    minutes: { type: 'string', default: '10' },
  },
});
const runs = Number(values.runs);
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31);
const minutes = Number(values.minutes);
const names = values.target?.split(',').map((s) => s.trim()) ?? targets.map((t) => t.name);
const unknown = names.filter((n) => !targets.some((t) => t.name === n));
if (!(Number.isInteger(runs) && runs > 0) || !Number.isInteger(seed) || !(minutes > 0) || unknown.length > 0) {
  process.stderr.write(`usage: npm run fuzz -- [--runs N] [--seed N] [--minutes M per target] [--target ${targets.map((t) => t.name).join(',')}]${unknown.length ? `\nunknown target(s): ${unknown.join(', ')}` : ''}\n`);
  process.exit(2);
}
process.stderr.write(`fuzzing ${names.join(', ')}: ${runs} inputs each (at most ${minutes} min), seed ${seed}\n`);
let failed = false;
for (const target of targets.filter((t) => names.includes(t.name))) {
  const report = await fuzz(target, { runs, seed, caseMs: 30_000, rssLimit: 3 * 2 ** 30, timeLimitMs: minutes * 60_000 });
  process.stdout.write(JSON.stringify(report) + '\n');
  if (report.failure) {
    failed = true;
    process.stderr.write(`${target.name}: ${report.failure.message}\n  saved as ${report.failure.file}; replay: npx ava test/fuzz-parsers.test.ts\n`);
  }
}
process.exit(failed ? 1 : 0);
