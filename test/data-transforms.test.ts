// Transforms: keep-ratio sizes, box scale + flip, padding, normalisation and
// collate, all against hand-worked numbers.
import test from 'ava';
import path from 'node:path';
import sharp from 'sharp';
import { collate, type PreparedImage } from '../lib/data/collate.js';
import { decodeImage, type DecodeRequest } from '../lib/data/decode.js';
import { boxesToOriginal, DEFAULT_MEAN, DEFAULT_STD, flipBoxes, normalizeToCHW, padTo, resizedSize, scaleFactors, transformBoxes } from '../lib/data/transforms.js';
import { patternImage, solidImage } from './fixtures/data/make.js';
import { allClose } from './helpers/numbers.js';
import { tempDir } from './helpers/temp_dir.js';

test('keep-ratio resize to fit (1333, 800): factor = min(1333/long, 800/short), sides rounded half up', (t) => {
  // 1000×700: min(1.333, 1.142857) = 8/7 -> 1142.857 -> 1143, 800.
  t.deepEqual(resizedSize(1000, 700), { width: 1143, height: 800 });
  // 640×480: min(2.0828, 1.6667) -> 1066.67 -> 1067, 800.
  t.deepEqual(resizedSize(640, 480), { width: 1067, height: 800 });
  // 2000×500 (very wide): the long side binds: 0.6665 -> 1333, 333.25 -> 333.
  t.deepEqual(resizedSize(2000, 500), { width: 1333, height: 333 });
  // Portrait 700×1000: 800, 1143.
  t.deepEqual(resizedSize(700, 1000), { width: 800, height: 1143 });
  // Scale order does not matter; fixed size without keepRatio.
  t.deepEqual(resizedSize(1000, 700, { scale: [800, 1333] }), { width: 1143, height: 800 });
  t.deepEqual(resizedSize(1000, 700, { scale: [512, 256], keepRatio: false }), { width: 512, height: 256 });
  t.throws(() => resizedSize(0, 10), { message: /both sides must be positive/ });
  t.throws(() => resizedSize(10, 10, { scale: [0, 10] }), { message: /scale must be two numbers ≥ 1/ });
});

test('boxes scale by actual output/input sizes and flip as x1\' = W − x2', (t) => {
  const { scaleX, scaleY } = scaleFactors(1000, 700, 1143, 800);
  t.is(scaleX, 1.143);
  t.is(scaleY, 800 / 700);
  // [100, 70, 300, 350] -> [114.3, 80, 342.9, 400]
  allClose(t, transformBoxes([100, 70, 300, 350], scaleX, scaleY), [114.3, 80, 342.9, 400], 1e-4);
  // flipped in the resized width 1143: [1143 − 342.9, 80, 1143 − 114.3, 400] = [800.1, 80, 1028.7, 400]
  allClose(t, transformBoxes([100, 70, 300, 350], scaleX, scaleY, 1143), [800.1, 80, 1028.7, 400], 1e-4);
  // Flip twice is the identity; a box touching the left edge touches the right edge after.
  t.deepEqual([...flipBoxes(flipBoxes([0, 1, 10, 5, 3, 3, 7, 9], 20), 20)], [0, 1, 10, 5, 3, 3, 7, 9]);
  t.deepEqual([...flipBoxes([0, 1, 10, 5], 20)], [10, 1, 20, 5]);
  // Clipping to the resized image.
  t.deepEqual([...transformBoxes([-2, -2, 30, 30], 1, 1, undefined, { width: 20, height: 10 })], [0, 0, 20, 10]);
});

test('boxesToOriginal undoes flip and scale exactly, clipping to the original image', (t) => {
  const meta = { scaleX: 1.143, scaleY: 800 / 700, flipped: true, resizedWidth: 1143, originalWidth: 1000, originalHeight: 700 };
  // The flipped input box of the test above maps back to [100, 70, 300, 350].
  allClose(t, boxesToOriginal([800.1, 80, 1028.7, 400], meta), [100, 70, 300, 350], 1e-4);
  allClose(t, boxesToOriginal([114.3, 80, 342.9, 400], { ...meta, flipped: false }), [100, 70, 300, 350], 1e-4);
  // A prediction spilling over the right edge of the input is clipped to the original width.
  allClose(t, boxesToOriginal([1100, -8, 1200, 800], { ...meta, flipped: false }), [962.3797, 0, 1000, 700], 1e-4);
});

test('padding rounds up to a multiple of 32', (t) => {
  t.deepEqual([1, 31, 32, 33, 333, 800, 1143, 1333].map((n) => padTo(n)), [32, 32, 32, 64, 352, 800, 1152, 1344]);
  t.is(padTo(10, 4), 12);
});

test('normalisation of known pixels: (v − mean) / std per RGB channel, CHW order', (t) => {
  // 2×1 image: (255, 0, 128), (123.675-ish, 116, 104)
  const px = new Uint8Array([255, 0, 128, 124, 116, 104]);
  const out = normalizeToCHW(px, 2, 1, 3);
  // R: (255 − 123.675) / 58.395 = 2.2489083, (124 − 123.675)/58.395 = 0.0055655
  // G: (0 − 116.28) / 57.12 = −2.0357143, (116 − 116.28)/57.12 = −0.0049020
  // B: (128 − 103.53) / 57.375 = 0.4264924, (104 − 103.53)/57.375 = 0.0081917
  allClose(t, out, [2.2489083, 0.0055655, -2.0357143, -0.004902, 0.4264924, 0.0081917], 1e-6);
  // Flip reverses each row; RGBA input ignores alpha.
  const flipped = normalizeToCHW(new Uint8Array([255, 0, 128, 9, 124, 116, 104, 9]), 2, 1, 4, { flip: true });
  allClose(t, flipped, [0.0055655, 2.2489083, -0.004902, -2.0357143, 0.0081917, 0.4264924], 1e-6);
  allClose(t, normalizeToCHW(new Uint8Array([10, 20, 30]), 1, 1, 3, { mean: [0, 0, 0], std: [1, 2, 4] }), [10, 10, 7.5], 0);
});

test('collate packs CHW images into one zero-padded [N, 3, H, W] tensor', (t) => {
  const img = (id: number, w: number, h: number, base: number): PreparedImage => ({
    data: Float32Array.from({ length: 3 * w * h }, (_, i) => base + i),
    meta: { imageId: id, originalWidth: w, originalHeight: h, resizedWidth: w, resizedHeight: h, scaleX: 1, scaleY: 1, flipped: false },
  });
  const batch = collate([img(1, 3, 2, 100), img(2, 1, 4, 200)], { sizeDivisor: 4 });
  t.deepEqual(batch.shape, [2, 3, 4, 4]);
  const at = (n: number, c: number, y: number, x: number): number => batch.data[((n * 3 + c) * 4 + y) * 4 + x]!;
  // image 1 channel 1 row 1: source index 1*6 + 1*3 + x
  t.deepEqual([0, 1, 2, 3].map((x) => at(0, 1, 1, x)), [109, 110, 111, 0]);
  t.deepEqual([0, 1, 2, 3].map((x) => at(0, 2, 2, x)), [0, 0, 0, 0]); // padded rows
  t.deepEqual([0, 1, 2, 3].map((y) => at(1, 2, y, 0)), [208, 209, 210, 211]);
  t.is(at(1, 2, 3, 1), 0);
  t.deepEqual(
    batch.metas.map((m) => [m.padRight, m.padBottom]),
    [
      [1, 2],
      [3, 0],
    ],
  );
  let sum = 0;
  for (const v of batch.data) sum += v;
  const expected = [...Array(18).keys()].reduce((s, i) => s + 100 + i, 0) + [...Array(12).keys()].reduce((s, i) => s + 200 + i, 0);
  t.is(sum, expected, 'every source value copied exactly once, zeros elsewhere');
});

const request = (file: string, extra: Partial<DecodeRequest> = {}): DecodeRequest => ({
  source: { kind: 'path', path: file },
  scale: [1333, 800],
  keepRatio: true,
  flip: false,
  mean: DEFAULT_MEAN,
  std: DEFAULT_STD,
  ...extra,
});

test('decode: a solid image stays exactly its normalised colour after the bilinear resize', async (t) => {
  const dir = tempDir('data');
  const file = path.join(dir, 'solid.png');
  await solidImage(file, 1000, 700, [255, 0, 128]);
  const r = await decodeImage(request(file));
  t.deepEqual([r.width, r.height, r.originalWidth, r.originalHeight], [1143, 800, 1000, 700]);
  const plane = r.width * r.height;
  allClose(t, [r.data[0]!, r.data[plane + 12345]!, r.data[2 * plane + plane - 1]!], [2.2489083, -2.0357143, 0.4264924], 1e-6);
});

test('decode: the flipped image is the exact mirror of the unflipped one (with and without resampling)', async (t) => {
  const dir = tempDir('data');
  const file = path.join(dir, 'pattern.png');
  await patternImage(file, 37, 23, (x, y) => [(x * 7) % 256, (y * 11) % 256, (x * y) % 256]);
  for (const scale of [[37, 23], [100, 60]] as [number, number][]) {
    const a = await decodeImage(request(file, { scale }));
    const b = await decodeImage(request(file, { scale, flip: true }));
    const { width: w, height: h } = a;
    let mismatches = 0;
    for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (a.data[(c * h + y) * w + x] !== b.data[(c * h + y) * w + (w - 1 - x)]) mismatches++;
    t.is(mismatches, 0, `scale ${scale}`);
  }
  // Identity scale: pixels are the file's own, e.g. (x=5, y=2) = (35, 22, 10).
  const id = await decodeImage(request(file, { scale: [37, 23], mean: [0, 0, 0], std: [1, 1, 1] }));
  const plane = 37 * 23;
  t.deepEqual([id.data[2 * 37 + 5], id.data[plane + 2 * 37 + 5], id.data[2 * plane + 2 * 37 + 5]], [35, 22, 10]);
});

test('decode: grey and 16-bit images become 3-channel 8-bit RGB', async (t) => {
  const grey16 = await sharp({ create: { width: 20, height: 10, channels: 3, background: { r: 200, g: 200, b: 200 } } }).toColourspace('grey16').png().toBuffer();
  const r = await decodeImage({ ...request(''), source: { kind: 'buffer', data: grey16 }, mean: [0, 0, 0], std: [1, 1, 1], scale: [20, 10] });
  t.deepEqual([r.width, r.height, r.data.length], [20, 10, 600]);
  t.deepEqual([r.data[0], r.data[200], r.data[400]], [200, 200, 200]);
});
