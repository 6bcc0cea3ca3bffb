// From runs to the study's tables, on made-up runs whose figures are worked
// out by hand: means ± std over seeds, paired differences against a control,
// LA-off differences, per-class AP50, pooled confusions.
import test from 'ava';
import { aggregateStudy } from '../lib/study/aggregate.js';
import type { RunMetrics, SetMetrics } from '../lib/study/metrics.js';
import type { RunRecord } from '../lib/study/run.js';

const close = (a: number, b: number, eps = 1e-12) => Math.abs(a - b) <= eps;

function set(ap: number, knifeAP50: number | null, confused: number): SetMetrics {
  return {
    stats: { AP: ap, AP50: ap + 0.2, AP75: ap - 0.05 },
    perClassAP50: { knife: knifeAP50, tin: 0.5 },
    precision50: { knife: Array.from({ length: 101 }, () => ap), tin: null },
    // knife row: 10 objects, `confused` of them won by tin; tin row: 10 correct
    confusion: { classes: ['knife', 'tin'], counts: [[10 - confused, confused, 0], [0, 10, 0]] },
  };
}

function run(method: string, seed: number, ap: number, options: { laOffAP?: number; confused?: number } = {}): RunMetrics {
  const record: RunRecord = {
    format: 'laxray-study-run',
    version: 1,
    method,
    seed,
    name: `${method}-seed${seed}`,
    iterations: 100,
    epochs: 2,
    trainSeconds: 60 * (seed + 1),
    evalSeconds: 10,
    device: 'cpu',
    testImages: 20,
    files: { detections: 'test/detections.json', detectionsLaOff: null, laWeights: null },
  };
  const la = options.laOffAP !== undefined;
  return {
    method,
    seed,
    record,
    detections: [],
    overall: set(ap, seed === 2 ? null : 0.4 + seed / 10, options.confused ?? 2),
    challenging: set(ap / 2, 0.3, 0),
    laOff: la
      ? {
          detections: [],
          overall: { AP: options.laOffAP!, AP50: options.laOffAP! + 0.2, AP75: options.laOffAP! - 0.05 },
          challenging: { AP: options.laOffAP! / 2, AP50: 0, AP75: 0 },
          changes: { detectionsOn: 50, detectionsOff: 50, changed: seed, changedFraction: seed / 100, imagesDiffering: seed, images: 20, maxScoreChange: 1e-4 * seed, meanScoreChange: 0 },
        }
      : null,
    laWeights: la
      ? [
          { level: 'p3', quantity: '|w1 - w2|', values: 1000, mean: 1e-5 * (seed + 1), p99: 1e-4, max: 3e-4 * (seed + 1) },
          { level: 'p4', quantity: '|w1 - w2|', values: 250, mean: 2e-5, p99: 2e-4, max: 5e-4 },
        ]
      : null,
  };
}

const runs: RunMetrics[] = [
  run('ctrl', 0, 0.3, { confused: 1 }),
  run('ctrl', 1, 0.32, { confused: 3 }),
  run('ctrl', 2, 0.31, { confused: 2 }),
  run('la', 0, 0.32, { laOffAP: 0.32 }),
  run('la', 1, 0.31, { laOffAP: 0.3 }),
  run('la', 2, 0.35, { laOffAP: 0.35 }),
];
const groups = new Map([
  ['knife', 'cutter'],
  ['tin', 'liquid container'],
]);

test('method summaries: mean ± sample std over seeds; per-class AP50 only where every seed has the class', (t) => {
  const agg = aggregateStudy(runs, ['ctrl', 'la', 'absent'], ['ctrl'], groups);
  t.deepEqual(agg.methods.map((m) => m.method), ['ctrl', 'la'], 'a method without runs is left out');
  const ctrl = agg.methods[0]!;
  t.deepEqual(ctrl.seeds, [0, 1, 2]);
  t.true(close(ctrl.overall.AP.mean, 0.31));
  t.true(close(ctrl.overall.AP.std, 0.01)); // deviations −0.01, 0.01, 0: Σ² / 2 = 1e-4
  t.true(close(ctrl.overall.AP50.mean, 0.51));
  t.true(close(ctrl.challenging!.AP.mean, 0.155));
  t.is(ctrl.perClassAP50.knife, null, 'seed 2 has no knife AP50');
  t.true(close(ctrl.perClassAP50.tin!, 0.5));
  t.deepEqual(ctrl.confusion.counts, [
    [24, 6, 0],
    [0, 30, 0],
  ]);
  // confused rate per seed: 1/20, 3/20, 2/20 → mean 0.1, std 0.05
  t.true(close(ctrl.confusionRates.confusedRate.mean, 0.1));
  t.true(close(ctrl.confusionRates.confusedRate.std, 0.05));
  t.is(ctrl.confusionRates.confusedWithinGroupRate.mean, 0, 'knife → tin crosses groups');
  t.true(close(ctrl.trainSeconds.mean, 120));
  t.true(close(ctrl.precision50.knife![0]!, 0.31), 'precision curves averaged over seeds');
  t.is(ctrl.precision50.tin, null);
});

test('paired differences against the control, seed by seed, with a 95% t-interval', (t) => {
  const agg = aggregateStudy(runs, ['ctrl', 'la'], ['ctrl'], groups);
  const d = agg.paired.ctrl!.la!.overall.AP;
  // la − ctrl per seed: +0.02, −0.01, +0.04 (the hand-worked case of study-stats)
  t.deepEqual(d.seeds, [0, 1, 2]);
  t.true(close(d.mean, 0.05 / 3));
  t.true(close(d.std, 0.025166114784235836));
  t.true(close(d.interval95[0], 0.05 / 3 - 0.0625218, 1e-6));
  t.false('ctrl' in agg.paired.ctrl!, 'no self-comparison');
  t.true(close(agg.paired.ctrl!.la!.challenging!.AP.mean, 0.05 / 6));
});

test('LA ablation: (LA on) − (LA off) per seed; detection changes summed; weights averaged, max over seeds', (t) => {
  const agg = aggregateStudy(runs, ['ctrl', 'la'], ['ctrl'], groups);
  t.deepEqual(agg.laAblations.map((a) => a.method), ['la']);
  const a = agg.laAblations[0]!;
  // differences 0, 0.01, 0 → mean 0.01/3
  t.deepEqual(a.difference.AP.differences.map((v) => Math.round(v * 1e9) / 1e9), [0, 0.01, 0]);
  t.true(close(a.difference.AP.mean, 0.01 / 3));
  t.is(a.changed, 0 + 1 + 2);
  t.is(a.detectionsOn + a.detectionsOff, 300);
  t.is(a.changedFraction, 3 / 300);
  t.is(a.imagesDiffering, 3);
  t.is(a.images, 60);
  t.true(close(a.maxScoreChange, 2e-4));
  const p3 = a.weights.find((w) => w.level === 'p3')!;
  t.true(close(p3.mean, 2e-5), 'mean of 1e-5, 2e-5, 3e-5');
  t.true(close(p3.max, 9e-4));
  t.is(p3.values, 3000);
});

test('top confusions are pooled over every method, with each method\'s count', (t) => {
  const agg = aggregateStudy(runs, ['ctrl', 'la'], ['ctrl'], groups);
  // ctrl: 1 + 3 + 2 knife → tin; la: 2 per seed
  t.deepEqual(agg.topConfusions, [{ truth: 'knife', predicted: 'tin', count: 12, byMethod: { ctrl: 6, la: 6 } }]);
});
