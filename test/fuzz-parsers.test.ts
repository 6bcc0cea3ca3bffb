// The parsers under fuzz (test/fuzz/targets.ts): safetensors, COCO datasets,
// eval results and ground truth, OPIXray annotations, configs, PNG/JPEG/16-bit
// images. A short budgeted run per parser with a fixed seed (so CI is
// reproducible), the seeds themselves must load, and every saved failing
// input under test/fixtures/fuzz/ is replayed. `npm run fuzz` runs longer
// with other seeds (scripts/fuzz.ts).
//   LAXRAY_FUZZ_RUNS (default 150), LAXRAY_FUZZ_SEED (default 20261201)
import test from 'ava';
import { checkInput, fuzz, savedFixtures } from './fuzz/harness.js';
import { targets } from './fuzz/targets.js';

const runs = Number(process.env.LAXRAY_FUZZ_RUNS ?? 150);
const seed = Number(process.env.LAXRAY_FUZZ_SEED ?? 20261201);

for (const target of targets) {
  test.serial(`fuzz ${target.name}: the seed files load`, async (t) => {
    for (const bytes of await target.seeds()) t.deepEqual(await checkInput(target, bytes, { caseMs: 60_000 }), { kind: 'loaded' });
  });

  test.serial(`fuzz ${target.name}: saved failing inputs hold the invariant`, async (t) => {
    const saved = savedFixtures(target.name);
    for (const { file, bytes } of saved) {
      await t.notThrowsAsync(checkInput(target, bytes, { caseMs: 60_000 }), file);
    }
    t.log(`${saved.length} saved input(s)`);
    t.pass();
  });

  test.serial(`fuzz ${target.name}: ${runs} generated inputs load or are refused with a code`, async (t) => {
    const report = await fuzz(target, { runs, seed, caseMs: 20_000, timeLimitMs: 60_000 });
    t.log(JSON.stringify(report));
    t.is(report.failure, null, report.failure ? `${report.failure.message}\nsaved as ${report.failure.file}` : '');
    t.true(report.runs >= Math.min(runs, 20), `${report.runs} inputs in the time budget`);
    t.true(Object.keys(report.refused).length > 0, 'the mutations reach the refusals');
  });
}
