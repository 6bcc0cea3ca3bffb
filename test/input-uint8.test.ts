// Raw RGB bytes as the detector's input: uploaded as uint8 and normalised on
// the device (native/input.cc) with the pipeline's own table, padding zeroed
// per image. The network sees exactly what the float32 path gives it, in
// detection, inspection and training. Serial: one thread count for both runs.
import test from 'ava';
import { Detector } from '../lib/detector.js';
import { LaxrayError } from '../lib/errors.js';
import { normalizationTable } from '../lib/data/transforms.js';
import type { Batch, ImageMeta, TrainingBatch } from '../lib/data/index.js';
import { thinR18 } from './helpers/small-detector.js';

const config = {
  device: 'cpu' as const,
  classes: ['a', 'b'],
  model: thinR18({ width: 64 }),
  data: { mean: [120, 110, 100] as [number, number, number], std: [50, 60, 70] as [number, number, number] },
  train: { seed: 2 },
};

const [N, H, W] = [2, 64, 96];
const sizes = [
  [96, 64],
  [70, 41],
] as const;

function batches(): { bytes: Batch; floats: Batch; whole: Float32Array } {
  const bytes = new Uint8Array(N * 3 * H * W);
  const floats = new Float32Array(N * 3 * H * W);
  const whole = new Float32Array(N * 3 * H * W); // every byte normalised, padding included
  const lut = normalizationTable(config.data.mean, config.data.std);
  const metas: ImageMeta[] = [];
  let seed = 7;
  for (let i = 0; i < N; i++) {
    const [w, h] = sizes[i]!;
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const k = ((i * 3 + c) * H + y) * W + x;
          seed = (seed * 1103515245 + 12345) >>> 0;
          const v = seed >>> 24;
          bytes[k] = x < w && y < h ? v : 255; // bytes in the padding are ignored: the device zeroes it
          floats[k] = x < w && y < h ? lut[c * 256 + v]! : 0;
          whole[k] = lut[c * 256 + bytes[k]!]!;
        }
      }
    }
    metas.push({ imageId: i, originalWidth: w, originalHeight: h, resizedWidth: w, resizedHeight: h, scaleX: 1, scaleY: 1, flipped: false, padRight: W - w, padBottom: H - h });
  }
  const shape: [number, number, number, number] = [N, 3, H, W];
  return { bytes: { data: bytes, shape, metas }, floats: { data: floats, shape, metas }, whole };
}

test.serial('a uint8 batch is normalised on the device exactly as the float32 pipeline does it, padding zeroed', async (t) => {
  const detector = await Detector.create(config);
  const { bytes, floats, whole } = batches();
  const fromBytes = await detector.detect(bytes);
  const fromFloats = await detector.detect(floats);
  t.deepEqual(fromBytes, fromFloats);
  const a = await detector.inspect({ data: bytes.data, shape: bytes.shape });
  // inspect takes no metas: the whole slot is the image, the 255s included
  const b = await detector.inspect({ data: whole, shape: floats.shape });
  t.deepEqual(a['fpn.p3']!.data, b['fpn.p3']!.data);
});

test.serial('a training step on a uint8 batch is the step on its float32 twin: same losses, positives and updated weights', async (t) => {
  const { bytes, floats } = batches();
  const targets = sizes.map(([w, h], i) => ({
    boxes: Float32Array.from([4 + i, 3, w / 2 + 3, h / 2 + 1, w / 3, h / 4, w - 2, h - 3]),
    labels: Int32Array.from([i % 2, 1]),
    ignoreBoxes: new Float32Array(0),
    annotationIds: [2 * i, 2 * i + 1],
  }));
  const step = async (batch: Batch) => {
    const detector = await Detector.create(config);
    detector.configureOptimizer({ momentum: 0.9, weightDecay: 1e-4, gradClipNorm: 35 });
    const training: TrainingBatch = { ...batch, targets, epoch: 0, index: 0 };
    const result = await detector.trainStep(training, 0.01);
    const weights = await detector.stateDict();
    return { result, weights };
  };
  const fromBytes = await step(bytes);
  const fromFloats = await step(floats);
  t.true(fromFloats.result.finite);
  t.true(fromFloats.result.numPositives > 0, 'the scene has positives');
  t.deepEqual(fromBytes.result, fromFloats.result);
  for (const [name, value] of Object.entries(fromFloats.weights)) t.deepEqual(fromBytes.weights[name]!.data, value.data, name);
});

test.serial('a uint8 image larger than its batch slot is refused, naming the image and the sizes', async (t) => {
  const detector = await Detector.create(config);
  const { bytes } = batches();
  const metas = bytes.metas.map((m, i) => (i === 1 ? { ...m, resizedWidth: W + 8 } : m));
  const err = await t.throwsAsync(detector.detect({ ...bytes, metas }), { instanceOf: LaxrayError });
  t.regex(err!.message, /image 1 is 104x41, which does not fit the 96x64 batch/);
});
