// The input pipeline end to end: batches, exact box mapping through resize and
// flip, padding, determinism by seed (whatever the worker count), resume,
// corrupt/missing images, and the inference path.
import test from 'ava';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import sharp from 'sharp';
import { LaxrayError } from '../lib/errors.js';
import { loadCocoDataset, type Dataset } from '../lib/data/coco.js';
import type { TrainingBatch } from '../lib/data/collate.js';
import { DataLoader, Preprocessor, preprocess } from '../lib/data/loader.js';
import { DecodePool } from '../lib/data/decode_pool.js';
import { DEFAULT_MEAN, DEFAULT_STD } from '../lib/data/transforms.js';
import { noiseJpeg, solidImage, validCoco, writeJson, writeValidImages } from './fixtures/data/make.js';
import { allClose } from './helpers/numbers.js';
import { tempDir } from './helpers/temp_dir.js';

async function collect(loader: AsyncIterable<TrainingBatch>): Promise<TrainingBatch[]> {
  const out: TrainingBatch[] = [];
  for await (const b of loader) out.push(b);
  return out;
}

/** validCoco (a.png 100×50, sub/b.png 40×80) in a temp dir. */
async function smallDataset(): Promise<{ ds: Dataset; dir: string }> {
  const dir = tempDir('data');
  await writeValidImages(dir);
  await writeJson(path.join(dir, 'coco.json'), validCoco());
  return { ds: await loadCocoDataset(path.join(dir, 'coco.json')), dir };
}

/** n noise JPEGs of assorted sizes with 1–3 boxes each. */
async function noiseDataset(n: number): Promise<{ ds: Dataset; dir: string }> {
  const dir = tempDir('data');
  const coco = { images: [] as object[], annotations: [] as object[], categories: [{ id: 1, name: 'a' }, { id: 2, name: 'b' }] };
  for (let i = 0; i < n; i++) {
    const w = 60 + ((i * 37) % 50);
    const h = 40 + ((i * 23) % 60);
    await noiseJpeg(path.join(dir, `${i}.jpg`), w, h, i + 1);
    coco.images.push({ id: 100 + i, file_name: `${i}.jpg`, width: w, height: h });
    for (let k = 0; k <= i % 3; k++) coco.annotations.push({ id: 1000 + 10 * i + k, image_id: 100 + i, category_id: 1 + (k % 2), bbox: [k * 3, k * 2, 10 + k, 12] });
  }
  await writeJson(path.join(dir, 'coco.json'), coco);
  return { ds: await loadCocoDataset(path.join(dir, 'coco.json')), dir };
}

test('a training batch: exact box mapping through resize and flip, ignore boxes apart, padding to 32', async (t) => {
  const { ds } = await smallDataset();
  // Always flip, no shuffle: dataset order. scale (200, 100):
  //  a.png 100×50: factor min(200/100, 100/50) = 2 -> 200×100, scale 2, 2
  //  b.png 40×80: factor min(200/80, 100/40) = 2.5 -> 100×200, scale 2.5, 2.5
  const loader = new DataLoader(ds, { batchSize: 2, scale: [200, 100], shuffle: false, flipProbability: 1, workers: 1 });
  const [batch, ...rest] = await collect(loader);
  await loader.close();
  t.is(rest.length, 0);
  t.deepEqual(batch!.shape, [2, 3, 224, 224]); // max(100, 200) = 200 -> 224 for both sides
  t.is(batch!.data.length, 2 * 3 * 224 * 224);
  const [ma, mb] = batch!.metas;
  t.like(ma, { imageId: 1, fileName: 'a.png', originalWidth: 100, originalHeight: 50, resizedWidth: 200, resizedHeight: 100, scaleX: 2, scaleY: 2, flipped: true, padRight: 24, padBottom: 124 });
  t.like(mb, { imageId: 2, resizedWidth: 100, resizedHeight: 200, scaleX: 2.5, scaleY: 2.5, flipped: true, padRight: 124, padBottom: 24 });
  // a.png boxes [10,5,30,15] and [50,20,80,45] (labels 0, 1) -> ×2 -> flip in W = 200:
  //   [20,10,60,30] -> [140,10,180,30];  [100,40,160,90] -> [40,40,100,90]
  t.deepEqual([...batch!.targets[0]!.boxes], [140, 10, 180, 30, 40, 40, 100, 90]);
  t.deepEqual([...batch!.targets[0]!.labels], [0, 1]);
  t.deepEqual(batch!.targets[0]!.annotationIds, [10, 11]);
  // b.png has only crowd/ignore boxes: [0,0,10,10] and [5,60,35,75] -> ×2.5 -> flip in W = 100:
  //   [0,0,25,25] -> [75,0,100,25];  [12.5,150,87.5,187.5] -> [12.5,150,87.5,187.5]
  t.deepEqual([...batch!.targets[1]!.boxes], []);
  t.deepEqual([...batch!.targets[1]!.ignoreBoxes], [75, 0, 100, 25, 12.5, 150, 87.5, 187.5]);
  // Pixels: a.png is solid (200, 10, 10): R = (200 − 123.675) / 58.395 inside, 0 in the padding.
  const at = (n: number, c: number, y: number, x: number): number => batch!.data[((n * 3 + c) * 224 + y) * 224 + x]!;
  allClose(t, [at(0, 0, 99, 199), at(0, 0, 100, 0), at(0, 0, 0, 200)], [(200 - 123.675) / 58.395, 0, 0], 1e-5);
  allClose(t, [at(1, 1, 199, 99), at(1, 1, 199, 100)], [(200 - 116.28) / 57.12, 0], 1e-5);
});

test('defaults reproduce the paper: 1333×800 keep-ratio, batch H/W multiples of 32', async (t) => {
  const dir = tempDir('data');
  await solidImage(path.join(dir, 'x.jpg'), 1000, 700);
  await writeJson(path.join(dir, 'c.json'), {
    images: [{ id: 5, file_name: 'x.jpg', width: 1000, height: 700 }],
    categories: [{ id: 1, name: 'knife' }],
    annotations: [{ id: 1, image_id: 5, category_id: 1, bbox: [100, 70, 200, 280] }],
  });
  const ds = await loadCocoDataset(path.join(dir, 'c.json'));
  const loader = new DataLoader(ds, { flipProbability: 0, workers: 0 });
  const [batch] = await collect(loader);
  t.deepEqual(batch!.shape, [1, 3, 800, 1152]); // 1143×800 padded to 1152×800
  t.like(batch!.metas[0], { resizedWidth: 1143, resizedHeight: 800, scaleX: 1.143, padRight: 9, padBottom: 0 });
  // [100, 70, 300, 350] × (1.143, 8/7) = [114.3, 80, 342.9, 400]
  allClose(t, batch!.targets[0]!.boxes, [114.3, 80, 342.9, 400], 1e-4);
  await loader.close();
});

test('same seed → identical batches, whatever the worker count; another seed → another order', async (t) => {
  const { ds } = await noiseDataset(11);
  const run = async (seed: number, workers: number): Promise<TrainingBatch[]> => {
    const loader = new DataLoader(ds, { batchSize: 3, scale: [96, 64], seed, workers, prefetch: 3 });
    const batches = await collect(loader);
    await loader.close();
    return batches;
  };
  const a = await run(7, 2);
  const b = await run(7, 0);
  t.is(a.length, 4); // 11 images, batch 3, last batch of 2 kept
  t.deepEqual(a.map((x) => x.metas.map((m) => m.imageId)), b.map((x) => x.metas.map((m) => m.imageId)));
  for (let i = 0; i < a.length; i++) {
    t.deepEqual(a[i]!.shape, b[i]!.shape);
    t.deepEqual(a[i]!.metas, b[i]!.metas);
    t.deepEqual(a[i]!.targets, b[i]!.targets);
    t.true(Buffer.from(a[i]!.data.buffer).equals(Buffer.from(b[i]!.data.buffer)), `batch ${i} pixels identical`);
  }
  const flips = a.flatMap((x) => x.metas.map((m) => m.flipped));
  t.true(flips.includes(true) && flips.includes(false));
  const c = await run(8, 2);
  t.notDeepEqual(
    c.map((x) => x.metas.map((m) => [m.imageId, m.flipped])),
    a.map((x) => x.metas.map((m) => [m.imageId, m.flipped])),
  );
});

test('recycled batch memory gives the same batches (padding re-zeroed), and decode buffers are reused', async (t) => {
  const { ds } = await noiseDataset(12);
  const snapshot = (b: TrainingBatch): { shape: number[]; data: Buffer } => ({ shape: [...b.shape], data: Buffer.from(new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength)) });
  // batch 2, portrait and landscape images mixed: consecutive batches differ in H and W.
  const opts = { batchSize: 2, scale: [120, 64] as [number, number], seed: 5, workers: 2, prefetch: 1 };
  const fresh = new DataLoader(ds, opts);
  const expected = (await collect(fresh)).map(snapshot);
  await fresh.close();
  const reusing = new DataLoader(ds, opts);
  const got: ReturnType<typeof snapshot>[] = [];
  const buffers = new Set<ArrayBufferLike>();
  for (let epoch = 0; epoch < 2; epoch++) {
    for await (const b of reusing.iterate({ epoch: 0 })) {
      got.push(snapshot(b));
      buffers.add(b.data.buffer);
      reusing.recycle(b);
      reusing.recycle(b); // a second recycle is ignored
    }
  }
  await reusing.close();
  t.true(new Set(expected.map((e) => e.shape.join('x'))).size > 1, 'batch shapes vary');
  t.is(got.length, 2 * expected.length);
  got.forEach((g, i) => {
    const e = expected[i % expected.length]!;
    t.deepEqual(g.shape, e.shape);
    t.true(g.data.equals(e.data), `batch ${i} identical`);
  });
  t.true(buffers.size < got.length, `batch memory was reused (${buffers.size} buffers for ${got.length} batches)`);
});

test('successive loops are successive epochs; iterate({ epoch, startBatch }) resumes exactly', async (t) => {
  const { ds } = await noiseDataset(7);
  const loader = new DataLoader(ds, { batchSize: 2, scale: [64, 64], seed: 3, workers: 1, dropLast: true });
  t.is(loader.length, 3);
  const e0 = await collect(loader);
  const e1 = await collect(loader);
  t.deepEqual(e0.map((b) => [b.epoch, b.index]), [[0, 0], [0, 1], [0, 2]]);
  t.deepEqual(e1.map((b) => b.epoch), [1, 1, 1]);
  t.notDeepEqual(e0.map((b) => b.metas.map((m) => m.imageId)), e1.map((b) => b.metas.map((m) => m.imageId)));
  const resumed = await collect(loader.iterate({ epoch: 1, startBatch: 1 }));
  t.deepEqual(resumed.map((b) => b.metas), e1.slice(1).map((b) => b.metas));
  t.true(Buffer.from(resumed[1]!.data.buffer).equals(Buffer.from(e1[2]!.data.buffer)));
  t.is(loader.stats.batches, 8);
  await loader.close();
});

test('filterEmpty leaves out images without annotations in training only', async (t) => {
  const dir = tempDir('data');
  await writeValidImages(dir);
  const coco = validCoco();
  coco.annotations = coco.annotations.filter((a) => a.image_id === 1);
  await writeJson(path.join(dir, 'c.json'), coco);
  const ds = await loadCocoDataset(path.join(dir, 'c.json'));
  const train = new DataLoader(ds, { workers: 0 });
  const val = new DataLoader(ds, { train: false, workers: 0 });
  t.deepEqual(train.images.map((im) => im.id), [1]);
  t.deepEqual(val.images.map((im) => im.id), [1, 2]);
  const [vb] = await collect(val);
  t.deepEqual(vb!.metas.map((m) => m.flipped), [false, false]); // no flips outside training
  await Promise.all([train.close(), val.close()]);
});

test('a corrupt image ends the epoch with an error naming file and image id; the process and loader carry on', async (t) => {
  const { ds } = await noiseDataset(6);
  const victim = ds.images[3]!;
  const bytes = await readFile(victim.path);
  await writeFile(victim.path, bytes.subarray(0, Math.floor(bytes.length / 3)));
  const loader = new DataLoader(ds, { batchSize: 2, scale: [64, 64], shuffle: false, workers: 2 });
  const seen: number[] = [];
  const err = await t.throwsAsync(
    (async () => {
      for await (const b of loader) seen.push(b.index);
    })(),
    { instanceOf: LaxrayError },
  );
  t.is(err!.code, 'INVALID_IMAGE');
  t.regex(err!.message, new RegExp(`^image id 103 \\(${victim.path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\): cannot decode \\(corrupt or truncated\\?\\).*replace or remove the file.* \\(epoch 0, batch 1\\)$`));
  t.deepEqual(seen, [0]); // batch 1 holds images 102 and 103
  // The same loader still works; with onError: 'skip' the image is left out and recorded.
  const again = await t.throwsAsync(collect(loader.iterate({ epoch: 0, startBatch: 1 })));
  t.regex(again!.message, /image id 103/);
  await loader.close();
  const skipped: string[] = [];
  const lenient = new DataLoader(ds, { batchSize: 2, scale: [64, 64], shuffle: false, workers: 2, onError: 'skip', onSkip: (e) => skipped.push(e.message) });
  const batches = await collect(lenient);
  t.deepEqual(batches.map((b) => b.metas.map((m) => m.imageId)), [[100, 101], [102], [104, 105]]);
  t.deepEqual(lenient.stats.skipped.map((s) => s.imageId), [103]);
  t.is(skipped.length, 1);
  await lenient.close();
  // A file deleted after the dataset was loaded is reported the same way.
  await rm(ds.images[0]!.path);
  const gone = new DataLoader(ds, { batchSize: 2, scale: [64, 64], shuffle: false, workers: 1 });
  const missing = await t.throwsAsync(collect(gone), { instanceOf: LaxrayError });
  t.regex(missing!.message, /^image id 100 \(.*0\.jpg\): file not found/);
  await gone.close();
});

test('a file whose size differs from the dataset is an error naming both sizes', async (t) => {
  const dir = tempDir('data');
  await writeValidImages(dir);
  const coco = validCoco();
  coco.images[0]!.width = 120;
  await writeJson(path.join(dir, 'c.json'), coco);
  const ds = await loadCocoDataset(path.join(dir, 'c.json'));
  const loader = new DataLoader(ds, { workers: 0, shuffle: false, scale: [64, 64] });
  const err = await t.throwsAsync(collect(loader), { instanceOf: LaxrayError });
  t.regex(err!.message, /^image id 1 \(.*a\.png\): the file is 100×50 but the dataset says 120×50/);
  await loader.close();
});

test('inference path: path, Buffer and sharp instance give the same tensor; meta maps back to the original', async (t) => {
  const dir = tempDir('data');
  const file = path.join(dir, 'n.jpg');
  await noiseJpeg(file, 700, 1000, 42);
  const p = new Preprocessor({ workers: 2 });
  const fromPath = await p.prepare(file);
  const fromBuffer = await p.prepare(await readFile(file));
  const fromSharp = await p.prepare(sharp(file));
  t.deepEqual(fromPath.shape, [1, 3, 1152, 800]); // 700×1000 -> 800×1143, H padded to 1152
  t.like(fromPath.metas[0], { imageId: 0, fileName: file, originalWidth: 700, originalHeight: 1000, resizedWidth: 800, resizedHeight: 1143, flipped: false, padBottom: 9 });
  t.is(fromPath.metas[0]!.scaleY, 1143 / 1000);
  t.true(Buffer.from(fromPath.data.buffer).equals(Buffer.from(fromBuffer.data.buffer)));
  t.true(Buffer.from(fromPath.data.buffer).equals(Buffer.from(fromSharp.data.buffer)));
  const two = await p.prepare([file, await readFile(file)]);
  t.deepEqual(two.shape, [2, 3, 1152, 800]);
  t.deepEqual(two.metas.map((m) => m.imageId), [0, 1]);
  const bad = await t.throwsAsync(p.prepare([file, path.join(dir, 'missing.png')]), { instanceOf: LaxrayError });
  t.regex(bad!.message, /^input 1 \(.*missing\.png\): file not found/);
  const junk = await t.throwsAsync(p.prepare(Buffer.from('not an image')), { instanceOf: LaxrayError });
  t.regex(junk!.message, /^input 0: not an image sharp can read/);
  await p.close();
  const oneShot = await preprocess(file);
  t.true(Buffer.from(oneShot.data.buffer).equals(Buffer.from(fromPath.data.buffer)));
});

test('breaking out of the loop early leaves nothing dangling; closing mid-epoch is a clear error', async (t) => {
  const { ds } = await noiseDataset(9);
  const loader = new DataLoader(ds, { batchSize: 2, scale: [64, 64], workers: 2, prefetch: 3 });
  for await (const b of loader) {
    t.is(b.index, 0);
    break;
  }
  const all = await collect(loader);
  t.is(all.length, 5);
  await loader.close();
  // Closing a loader mid-epoch: the next batch fails with a clear error, not a hang.
  const closing = new DataLoader(ds, { batchSize: 2, scale: [64, 64], workers: 2, prefetch: 0 });
  const it = closing[Symbol.asyncIterator]();
  await it.next();
  await closing.close();
  const err = await t.throwsAsync(it.next(), { instanceOf: LaxrayError });
  t.regex(err!.message, /was closed while this image was being prepared/);
  const again = await t.throwsAsync(collect(closing), { instanceOf: LaxrayError });
  t.regex(again!.message, /this DataLoader is closed/);
});

test('the decode pool never has more than maxInFlight images in sharp at once (inline and with workers)', async (t) => {
  const dir = tempDir('data');
  const file = path.join(dir, 'x.jpg');
  await noiseJpeg(file, 80, 60, 9);
  for (const workers of [0, 2]) {
    const pool = new DecodePool(workers, 2);
    const active = (): number => (pool as unknown as { active: number }).active;
    let peak = 0;
    const request = { source: { kind: 'path', path: file } as const, scale: [64, 64] as const, keepRatio: true, flip: false, mean: DEFAULT_MEAN, std: DEFAULT_STD };
    const all = Array.from({ length: 10 }, () => pool.decode(request).then((r) => ((peak = Math.max(peak, active())), r)));
    t.is(active(), 2, 'two started at once, eight queued');
    const sampler = setInterval(() => (peak = Math.max(peak, active())), 1);
    const results = await Promise.all(all);
    clearInterval(sampler);
    t.is(results.length, 10);
    t.true(results.every((r) => r.width === 64 && r.height === 48));
    t.true(peak <= 2, `workers ${workers}: peak ${peak}`);
    t.is(active(), 0);
    await pool.close();
  }
});

test('inference on a folder or a FIFO says what it is (and does not wait on the FIFO)', async (t) => {
  const dir = tempDir('data');
  const fifo = path.join(dir, 'pipe.png');
  execFileSync('mkfifo', [fifo]);
  const p = new Preprocessor({ workers: 1 });
  try {
    const folder = await t.throwsAsync(p.prepare(dir), { instanceOf: LaxrayError });
    t.is(folder!.code, 'INVALID_IMAGE');
    t.regex(folder!.message, /^input 0 \(.*\): .* is a folder, not an image file/);
    const pipe = await t.throwsAsync(p.prepare(fifo), { instanceOf: LaxrayError });
    t.regex(pipe!.message, /^input 0 \(.*pipe\.png\): .* is a FIFO \(named pipe\), not an image file/);
  } finally {
    await p.close();
  }
});
