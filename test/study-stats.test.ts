// The study's report maths against hand-worked cases: mean ± sample std,
// paired per-seed differences and their t-interval, percentiles (numpy's
// linear rule), the seeded bootstrap, and the bootstrap of COCO AP over test
// images (resampled images get fresh ids, so a repeated image counts twice).
import test from 'ava';
import { mulberry32 } from '../lib/data/random.js';
import { evaluateCoco, type CocoDetection, type CocoGroundTruth } from '../lib/eval/index.js';
import { bootstrapStat, resamplable, resample } from '../lib/study/bootstrap_ap.js';
import { bootstrap, confidenceInterval95, meanStd, pairedDifference, percentile, tQuantile975 } from '../lib/study/stats.js';
import { LaxrayError } from '../lib/errors.js';

const close = (a: number, b: number, eps = 1e-9) => Math.abs(a - b) <= eps;

test('meanStd: mean and Bessel-corrected std, worked by hand', (t) => {
  // mean 2.5; squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5; std = sqrt(5 / 3)
  const m = meanStd([1, 2, 3, 4]);
  t.is(m.n, 4);
  t.true(close(m.mean, 2.5));
  t.true(close(m.std, Math.sqrt(5 / 3)));
  const one = meanStd([0.3]);
  t.is(one.mean, 0.3);
  t.true(Number.isNaN(one.std), 'one value: no spread');
  const none = meanStd([]);
  t.true(Number.isNaN(none.mean));
  t.is(meanStd([1, Number.NaN, 3]).n, 2, 'non-finite values are left out');
});

test('pairedDifference: method − reference over the seeds both have, with its 95% t-interval', (t) => {
  const method = new Map([
    [0, 0.3],
    [1, 0.32],
    [2, 0.35],
  ]);
  const reference = new Map([
    [0, 0.28],
    [1, 0.33],
    [2, 0.31],
    [3, 0.5], // only in the reference: left out
  ]);
  const d = pairedDifference(method, reference);
  t.deepEqual(d.seeds, [0, 1, 2]);
  t.deepEqual(d.differences.map((v) => Math.round(v * 1e6) / 1e6), [0.02, -0.01, 0.04]);
  // mean 0.05 / 3; deviations 0.00333, −0.02667, 0.02333 → Σ² = 0.0012667, / 2 → std 0.0251661
  t.true(close(d.mean, 0.05 / 3, 1e-12));
  t.true(close(d.std, 0.025166114784235836, 1e-12));
  // t_{0.975}(2) = 4.303: half-width 4.303 · 0.0251661 / √3 = 0.0625218
  const [lo, hi] = confidenceInterval95(d);
  t.true(close(lo, 0.05 / 3 - 0.0625218, 1e-6));
  t.true(close(hi, 0.05 / 3 + 0.0625218, 1e-6));
  t.deepEqual(confidenceInterval95(meanStd([1])).map(Number.isNaN), [true, true]);
});

test('tQuantile975: table values and the large-df expansion', (t) => {
  t.is(tQuantile975(1), 12.706);
  t.is(tQuantile975(2), 4.303);
  t.is(tQuantile975(30), 2.042);
  // t_{0.975}(60) = 2.000, t_{0.975}(120) = 1.980 (standard tables)
  t.true(close(tQuantile975(60), 2.0003, 1e-3));
  t.true(close(tQuantile975(120), 1.9799, 1e-3));
  t.throws(() => tQuantile975(0), { instanceOf: LaxrayError });
});

test('percentile: numpy\'s linear interpolation between order statistics', (t) => {
  // numpy.percentile([1, 2, 3, 4, 5], 99) = 4.96; ([0, 10], 50) = 5
  t.true(close(percentile([5, 1, 4, 2, 3], 99), 4.96));
  t.is(percentile([10, 0], 50), 5);
  t.is(percentile([7], 99), 7);
  t.is(percentile([1, 2, 3], 0), 1);
  t.is(percentile([1, 2, 3], 100), 3);
  t.throws(() => percentile([1], 101), { instanceOf: LaxrayError });
});

test('bootstrap: resamples with replacement from mulberry32(seed), the statistic on each; same seed, same draws', (t) => {
  const values = [1, 5, 2, 8, 3];
  const mean = (idx: Int32Array) => Array.from(idx, (i) => values[i]!).reduce((a, b) => a + b, 0) / idx.length;
  const r = bootstrap(values.length, mean, { draws: 50, seed: 9 });
  t.is(r.estimate, 19 / 5);
  // the same resamples drawn independently here
  const random = mulberry32(9);
  const means: number[] = [];
  for (let d = 0; d < 50; d++) {
    const idx = Int32Array.from({ length: 5 }, () => Math.floor(random() * 5));
    means.push(mean(idx));
  }
  t.true(close(r.std, meanStd(means).std, 1e-12));
  t.true(close(r.interval95[0], percentile(means, 2.5)));
  t.true(close(r.interval95[1], percentile(means, 97.5)));
  t.deepEqual(bootstrap(values.length, mean, { draws: 50, seed: 9 }), r);
  t.notDeepEqual(bootstrap(values.length, mean, { draws: 50, seed: 10 }).std, r.std);
  t.throws(() => bootstrap(0, mean), { instanceOf: LaxrayError });
  t.throws(() => bootstrap(3, mean, { draws: 1 }), { instanceOf: LaxrayError });
});

// Two images, one object each. Image 1: a perfect detection (0.9). Image 2: only
// a false positive (0.8) away from its object. AP50 = 51/101 (precision 1 up to
// recall 0.5, then nothing).
const gt: CocoGroundTruth = {
  images: [
    { id: 10, width: 100, height: 100 },
    { id: 20, width: 100, height: 100 },
  ],
  annotations: [
    { id: 1, image_id: 10, category_id: 1, bbox: [10, 10, 30, 30], area: 900, iscrowd: 0 },
    { id: 2, image_id: 20, category_id: 1, bbox: [10, 10, 30, 30], area: 900, iscrowd: 0 },
  ],
  categories: [{ id: 1, name: 'knife' }],
};
const dets: CocoDetection[] = [
  { image_id: 10, category_id: 1, bbox: [10, 10, 30, 30], score: 0.9 },
  { image_id: 20, category_id: 1, bbox: [60, 60, 30, 30], score: 0.8 },
];

test('resample: an image drawn twice enters the evaluation twice, with fresh ids', (t) => {
  const set = resamplable(gt);
  const byImage = [[dets[0]!], [dets[1]!]];
  t.true(close(evaluateCoco(gt, dets).stats.AP50, 51 / 101));
  const twiceFirst = resample(set, byImage, Int32Array.from([0, 0]));
  t.deepEqual(twiceFirst.groundTruth.images.map((im) => im.id), [1, 2]);
  t.deepEqual(twiceFirst.groundTruth.annotations.map((a) => [a.id, a.image_id]), [
    [1, 1],
    [2, 2],
  ]);
  t.is(evaluateCoco(twiceFirst.groundTruth, twiceFirst.detections).stats.AP50, 1);
  const twiceSecond = resample(set, byImage, Int32Array.from([1, 1]));
  t.is(evaluateCoco(twiceSecond.groundTruth, twiceSecond.detections).stats.AP50, 0);
  const identity = resample(set, byImage, Int32Array.from([0, 1]));
  t.true(close(evaluateCoco(identity.groundTruth, identity.detections).stats.AP50, 51 / 101));
});

test('bootstrapStat: the AP estimate is the plain evaluation; resamples are the three kinds above', (t) => {
  const r = bootstrapStat(gt, dets, { stat: 'AP50', draws: 40, seed: 3 });
  t.true(close(r.estimate, 51 / 101));
  // every resample is {0,0} (AP50 1), {1,1} (0) or a mix (51/101): the interval lies in [0, 1]
  t.true(r.interval95[0] >= 0 && r.interval95[1] <= 1);
  t.true(r.std > 0.2 && r.std < 0.5, `std ${r.std}`);
  const subset = bootstrapStat(gt, dets, { stat: 'AP50', draws: 10, seed: 3, imageIds: [10] });
  t.true(close(subset.estimate, 1, 1e-12));
  t.true(subset.std < 1e-12, 'one perfect image: every resample is perfect');
});
