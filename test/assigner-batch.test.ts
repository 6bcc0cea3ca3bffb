// The training targets come from the ATSS assigner vectorised over the batch
// (native/assigner.cc atssAssignBatch). It must assign exactly what the
// per-image assigner (atssAssign, laxray/ops) assigns to each image on its own
// valid anchors — the reference here, run image by image on random scenes
// with padding (anchors outside an image's extent), images without gts, and
// levels with fewer valid anchors than topk.
import test from 'ava';
import { mulberry32 } from '../lib/data/random.js';
import { native, type NativeHeadCheckSpec } from '../lib/native.js';

interface Scene {
  spec: NativeHeadCheckSpec;
  padSizes: number[];
}

function randomScene(seed: number): Scene {
  const random = mulberry32(seed);
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * random();
  const strides = [8, 16, 32];
  const featureSizes = [12, 16, 6, 8, 3, 4]; // a 96 × 128 batch
  const [batchH, batchW] = [96, 128];
  const n = 4;
  const numClasses = 5;
  let anchors = 0;
  for (let l = 0; l < 3; l++) anchors += featureSizes[2 * l]! * featureSizes[2 * l + 1]!;
  const padSizes: number[] = [];
  const gtBoxes: Float32Array[] = [];
  const gtLabels: Int32Array[] = [];
  for (let i = 0; i < n; i++) {
    // image 0 fills the batch; the others are smaller (down to a third), so padding anchors exist on every level
    // (image 3 at a third: its stride-32 level has 2 valid anchors, fewer than topk)
    const w = i === 0 ? batchW : i === 3 ? Math.round(batchW / 3) : Math.round(uniform(batchW / 3, batchW));
    const h = i === 0 ? batchH : i === 3 ? Math.round(batchH / 3) : Math.round(uniform(batchH / 3, batchH));
    padSizes.push(w, h);
    const count = i === 2 ? 0 : 1 + Math.floor(random() * 7);
    const boxes = new Float32Array(4 * count);
    const labels = new Int32Array(count);
    for (let k = 0; k < count; k++) {
      const bw = uniform(6, w * 0.8);
      const bh = uniform(6, h * 0.8);
      const x = uniform(0, w - bw);
      const y = uniform(0, h - bh);
      boxes.set([x, y, x + bw, y + bh], 4 * k);
      labels[k] = Math.floor(random() * numClasses);
    }
    gtBoxes.push(boxes);
    gtLabels.push(labels);
  }
  return {
    padSizes,
    spec: {
      regression: 'delta',
      regMax: 16,
      numClasses,
      anchorScale: 8,
      featureSizes,
      strides,
      batch: n,
      clsLogits: new Float32Array(n * anchors * numClasses),
      boxRegression: new Float32Array(n * anchors * 4),
      qualityLogits: new Float32Array(n * anchors),
      gtBoxes,
      gtLabels,
      metas: [],
      padSizes,
    },
  };
}

for (const seed of [11, 12, 13, 14, 15, 16]) {
  test(`batched assignment = per-image atssAssign on the valid anchors (random scene ${seed})`, async (t) => {
    const { spec } = randomScene(seed);
    const result = await native.headCheck(spec, 'cpu');
    const { anchors, valid, labels, matchedGt } = result.targets;
    const a = anchors.shape[0]!;
    const perLevel = [0, 1, 2].map((l) => spec.featureSizes[2 * l]! * spec.featureSizes[2 * l + 1]!);
    let positives = 0;
    let fewerThanTopk = false;
    for (let i = 0; i < spec.batch; i++) {
      // The reference: the valid anchors of image i alone, level by level.
      const index: number[] = [];
      const validPerLevel: number[] = [];
      let start = 0;
      for (const count of perLevel) {
        let c = 0;
        for (let j = start; j < start + count; j++) if (valid.data[i * a + j]) (index.push(j), c++);
        validPerLevel.push(c);
        if (c < 9) fewerThanTopk = true;
        start += count;
      }
      const subset = new Float32Array(index.length * 4);
      index.forEach((j, k) => subset.set(anchors.data.subarray(4 * j, 4 * j + 4) as Float32Array, 4 * k));
      const ref = await native.atssAssign(subset, validPerLevel, spec.gtBoxes[i]!, spec.gtLabels[i]!, 9, spec.numClasses, 'cpu');
      const wantLabels = new Array<number>(a).fill(-1);
      const wantMatched = new Array<number>(a).fill(-1);
      index.forEach((j, k) => {
        wantLabels[j] = ref.labels[k]!;
        wantMatched[j] = ref.matchedGt[k]!;
      });
      t.deepEqual(Array.from(labels.data.subarray(i * a, (i + 1) * a)), wantLabels, `image ${i}: labels`);
      t.deepEqual(Array.from(matchedGt.data.subarray(i * a, (i + 1) * a)), wantMatched, `image ${i}: matched gt`);
      positives += wantLabels.filter((l) => l >= 0).length;
    }
    t.true(positives > 0, 'the scene has positives');
    t.true(fewerThanTopk, 'some level of some image has fewer valid anchors than topk');
    t.true(Array.from(valid.data).some((v) => v === 0), 'the scene has padding anchors');
  });
}
