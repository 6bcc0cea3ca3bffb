// One synthetic sample, end to end: layout → Beer–Lambert render → eq.-1 image
// → labels; and the dataset writer around it (files, COCO, splits, workers).
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { LaxrayError, type LaxrayErrorCode } from '../../errors.js';
import { startWorker, whenWorkerStops } from '../../worker_file.js';
import { dualEnergyToRgb, writeGrey16Png } from '../dual_energy.js';
import { CATEGORIES } from './objects.js';
import { resolveRecipe } from './recipe.js';
import { assignSplits, SPLITS, type SplitName } from './split.js';
import { selectChallenging } from './challenging.js';
import { CHALLENGING_FILE, SYNTH_MANIFEST, type SynthManifest } from './manifest.js';
import { imageSeed, Rng } from '../random.js';
import { layoutScene, type Scene } from './scene.js';
import { renderScene, RenderScratch, type RenderedScan } from './render.js';
import { annotate, type SynthAnnotation } from './annotate.js';
import type { SynthRecipe } from './recipe.js';

export interface SynthSample {
  /** Position in the dataset (0-based); the COCO image id is index + 1. */
  index: number;
  width: number;
  height: number;
  scene: Scene;
  scan: RenderedScan;
  /** Eq.-1 3-channel image (what the detector sees), interleaved RGB. */
  rgb: Uint8Array;
  annotations: SynthAnnotation[];
}

/** Layout of image `index` only (no pixels): for statistics over many scenes. */
export function sampleScene(seed: number, index: number, recipe: SynthRecipe): Scene {
  return layoutScene(new Rng(imageSeed(seed, index)), recipe);
}

/** Generates image `index` of the dataset seeded with `seed`; identical for identical arguments. */
export function generateSample(seed: number, index: number, recipe: SynthRecipe, scratch?: RenderScratch): SynthSample {
  const s = imageSeed(seed, index);
  const scene = layoutScene(new Rng(s), recipe);
  const scan = renderScene(scene, new Rng(s ^ 0x5851f42d), recipe, scratch);
  const rgb = dualEnergyToRgb(scan.high, scan.low);
  const annotations = annotate(
    scene.objects.map((o) => o.categoryId),
    scan.masks,
    scan.aLow,
    scan.aHigh,
    scan.width,
    scan.height,
  );
  return { index, width: scan.width, height: scan.height, scene, scan, rgb, annotations };
}

// ---------------------------------------------------------------------------
// Dataset writer: images/ (eq.-1 PNGs), raw/ (16-bit pairs, optional), COCO
// JSON per split, the challenging-subset ids and a manifest. Byte-identical for
// the same seed, count and recipe, whatever the number of workers.

export interface SampleRecord {
  index: number;
  width: number;
  height: number;
  annotations: SynthAnnotation[];
}

export function imageFileName(index: number): string {
  return `images/${String(index + 1).padStart(6, '0')}.png`;
}

export function rawFileNames(index: number): { high: string; low: string } {
  const stem = String(index + 1).padStart(6, '0');
  return { high: `raw/${stem}_high.png`, low: `raw/${stem}_low.png` };
}

/** Encodes one sample's files under `outDir` (eq.-1 PNG; raw 16-bit pair when `raw`). */
export async function writeSampleFiles(sample: SynthSample, outDir: string, raw: boolean): Promise<SampleRecord> {
  const { width, height } = sample;
  const file = path.join(outDir, imageFileName(sample.index));
  try {
    const jobs: Promise<unknown>[] = [sharp(Buffer.from(sample.rgb.buffer, sample.rgb.byteOffset, sample.rgb.byteLength), { raw: { width, height, channels: 3 } }).png({ compressionLevel: 3 }).toFile(file)];
    if (raw) {
      const names = rawFileNames(sample.index);
      jobs.push(writeGrey16Png(path.join(outDir, names.high), { data: sample.scan.high, width, height }));
      jobs.push(writeGrey16Png(path.join(outDir, names.low), { data: sample.scan.low, width, height }));
    }
    await Promise.all(jobs);
  } catch (err) {
    throw new LaxrayError('IO_ERROR', `cannot write synthetic image ${file}: ${(err as Error).message}`, { cause: err });
  }
  return { index: sample.index, width, height, annotations: sample.annotations };
}

export interface GenerateDatasetOptions {
  outDir: string;
  count: number;
  /** Default 0. */
  seed?: number;
  recipe?: Partial<SynthRecipe>;
  /** Also write the 16-bit (high, low) pairs under raw/. */
  raw?: boolean;
  /** Worker threads (default: available cores, at most 8; 1 = in this thread). */
  workers?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface SynthCocoImage {
  id: number;
  file_name: string;
  width: number;
  height: number;
  /** Raw 16-bit pair, relative to the dataset folder (with --raw). */
  raw_high?: string;
  raw_low?: string;
}

export interface SynthCocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  bbox: [number, number, number, number];
  /** Box area w·h (CLCXray has boxes only); mask_area is the object's pixel count. */
  area: number;
  iscrowd: 0;
  mask_area: number;
  overlap: number;
  background_similarity: number;
}

export interface SynthCoco {
  info: { description: string; version: string; seed: number };
  images: SynthCocoImage[];
  annotations: SynthCocoAnnotation[];
  categories: { id: number; name: string; supercategory: string }[];
}

export interface GenerateDatasetResult {
  outDir: string;
  count: number;
  seed: number;
  /** Paths of the files written (absolute). */
  files: { all: string; train: string; val: string; test: string; challenging: string; testChallengingIds: string; manifest: string };
  stats: SynthStats;
  seconds: number;
}

export interface SynthStats {
  images: number;
  objects: number;
  objectsPerImage: number;
  imagesWithAtLeastTwoObjects: number;
  perClass: Record<string, number>;
  meanOverlap: number;
  overlappedObjects: number;
  splits: Record<SplitName, number>;
  challenging: Record<SplitName, number>;
}

const round4 = (v: number): number => Math.round(v * 1e4) / 1e4;

/** COCO categories 1..12 in CLCXray order. */
export function synthCategories(): SynthCoco['categories'] {
  return CATEGORIES.map((name, i) => ({ id: i + 1, name, supercategory: i < 5 ? 'cutter' : 'liquid container' }));
}

/** Builds the COCO object for the records (in index order) and the given image subset. */
export function buildCoco(records: readonly SampleRecord[], seed: number, raw: boolean, keep?: (index: number) => boolean): SynthCoco {
  const images: SynthCocoImage[] = [];
  const annotations: SynthCocoAnnotation[] = [];
  let annId = 1;
  for (const r of records) {
    const imageId = r.index + 1;
    // annotation ids are global (same id for the same object in every split file)
    if (keep && !keep(r.index)) {
      annId += r.annotations.length;
      continue;
    }
    const img: SynthCocoImage = { id: imageId, file_name: imageFileName(r.index), width: r.width, height: r.height };
    if (raw) {
      const n = rawFileNames(r.index);
      img.raw_high = n.high;
      img.raw_low = n.low;
    }
    images.push(img);
    for (const a of r.annotations) {
      annotations.push({
        id: annId++,
        image_id: imageId,
        category_id: a.categoryId,
        bbox: a.bbox,
        area: a.bbox[2] * a.bbox[3],
        iscrowd: 0,
        mask_area: a.maskArea,
        overlap: round4(a.overlap),
        background_similarity: round4(a.backgroundSimilarity),
      });
    }
  }
  return { info: { description: 'laxray synthetic dual-energy baggage scans (eq.-1 images)', version: '1', seed }, images, annotations, categories: synthCategories() };
}

function workerCount(requested: number | undefined, count: number): number {
  const n = requested ?? Math.min(8, os.availableParallelism());
  if (!Number.isInteger(n) || n < 1) throw new LaxrayError('INVALID_ARGUMENT', `workers must be a positive integer, got ${n}`);
  return Math.max(1, Math.min(n, Math.ceil(count / 8)));
}

async function renderWithWorkers(n: number, init: WorkerInit, count: number, records: SampleRecord[], progress: () => void): Promise<void> {
  const chunk = 4;
  let next = 0;
  const workers = Array.from({ length: n }, () => startWorker(import.meta.url, './worker'));
  try {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            const feed = (): void => {
              if (next >= count) {
                w.postMessage({ type: 'stop' });
                resolve();
                return;
              }
              const indices: number[] = [];
              while (indices.length < chunk && next < count) indices.push(next++);
              w.postMessage({ type: 'task', indices });
            };
            w.on('message', (msg: WorkerReply) => {
              if (msg.type === 'done') {
                for (const r of msg.records) {
                  records[r.index] = r;
                  progress();
                }
                feed();
              } else if (msg.type === 'error') reject(new LaxrayError(msg.code ?? 'IO_ERROR', msg.message));
            });
            whenWorkerStops(w, (err, code) => {
              if (code === null) reject(err);
              else if (code !== 0) reject(new LaxrayError('IO_ERROR', `synth worker exited with code ${code}`));
            });
            w.postMessage({ type: 'init', ...init });
            feed();
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

export interface WorkerInit {
  seed: number;
  recipe: SynthRecipe;
  outDir: string;
  raw: boolean;
}

export type WorkerReply = { type: 'done'; records: SampleRecord[] } | { type: 'error'; message: string; code?: LaxrayErrorCode };

async function writeJson(file: string, value: unknown): Promise<void> {
  try {
    await writeFile(file, JSON.stringify(value) + '\n');
  } catch (err) {
    throw new LaxrayError('IO_ERROR', `cannot write ${file}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Generates a synthetic dataset in `outDir`:
 *   images/000001.png …            eq.-1 3-channel 8-bit images
 *   raw/000001_high.png, _low.png   16-bit pairs (with `raw`)
 *   all.json train.json val.json test.json   COCO (file_name relative to outDir)
 *   challenging.json                {image_ids: test split's challenging ids, train, val, test, thresholds}
 *   test_challenging_ids.json       plain id array (for `laxray eval --image-ids`)
 *   synth.json                      manifest: seed, count, recipe, statistics
 */
export async function generateDataset(options: GenerateDatasetOptions): Promise<GenerateDatasetResult> {
  const started = performance.now();
  const { outDir, count } = options;
  const seed = options.seed ?? 0;
  if (!Number.isInteger(count) || count < 1) throw new LaxrayError('INVALID_ARGUMENT', `count must be a positive integer, got ${count}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new LaxrayError('INVALID_ARGUMENT', `seed must be an integer in 0..4294967295, got ${seed}`);
  const recipe = resolveRecipe(options.recipe);
  const raw = options.raw ?? false;
  try {
    await mkdir(path.join(outDir, 'images'), { recursive: true });
    if (raw) await mkdir(path.join(outDir, 'raw'), { recursive: true });
  } catch (err) {
    throw new LaxrayError('IO_ERROR', `cannot create output folder ${outDir}: ${(err as Error).message}`, { cause: err });
  }
  const records = new Array<SampleRecord>(count);
  let done = 0;
  const progress = (): void => options.onProgress?.(++done, count);
  const nWorkers = workerCount(options.workers, count);
  if (nWorkers <= 1) {
    const scratch = new RenderScratch();
    let pending: Promise<void> = Promise.resolve();
    for (let i = 0; i < count; i++) {
      const sample = generateSample(seed, i, recipe, scratch);
      // encode the previous image (sharp's thread pool) while the next one renders
      await pending;
      pending = writeSampleFiles(sample, outDir, raw).then((r) => {
        records[i] = r;
        progress();
      });
    }
    await pending;
  } else {
    await renderWithWorkers(nWorkers, { seed, recipe, outDir, raw }, count, records, progress);
  }

  const splits = assignSplits(count, seed, recipe.split);
  const all = buildCoco(records, seed, raw);
  const files = {
    all: path.resolve(outDir, 'all.json'),
    train: path.resolve(outDir, 'train.json'),
    val: path.resolve(outDir, 'val.json'),
    test: path.resolve(outDir, 'test.json'),
    challenging: path.resolve(outDir, CHALLENGING_FILE),
    testChallengingIds: path.resolve(outDir, 'test_challenging_ids.json'),
    manifest: path.resolve(outDir, SYNTH_MANIFEST),
  };
  await writeJson(files.all, all);
  const challenging = {} as Record<SplitName, number[]>;
  for (const split of SPLITS) {
    const coco = buildCoco(records, seed, raw, (i) => splits[i] === split);
    await writeJson(files[split], coco);
    challenging[split] = selectChallenging(coco, recipe.challenging);
  }
  // image_ids: the test split's challenging images, in the form `laxray eval --image-ids` reads
  await writeJson(files.challenging, { image_ids: challenging.test, split: 'test', thresholds: recipe.challenging, ...challenging });
  await writeJson(files.testChallengingIds, challenging.test);

  const perClass: Record<string, number> = Object.fromEntries(CATEGORIES.map((c) => [c, 0]));
  let overlapSum = 0;
  let overlapped = 0;
  for (const a of all.annotations) {
    perClass[CATEGORIES[a.category_id - 1] as string]! += 1;
    overlapSum += a.overlap;
    if (a.overlap > 0) overlapped++;
  }
  const stats: SynthStats = {
    images: count,
    objects: all.annotations.length,
    objectsPerImage: round4(all.annotations.length / count),
    imagesWithAtLeastTwoObjects: records.filter((r) => r.annotations.length >= 2).length,
    perClass,
    meanOverlap: round4(all.annotations.length ? overlapSum / all.annotations.length : 0),
    overlappedObjects: overlapped,
    splits: { train: splits.filter((s) => s === 'train').length, val: splits.filter((s) => s === 'val').length, test: splits.filter((s) => s === 'test').length },
    challenging: { train: challenging.train.length, val: challenging.val.length, test: challenging.test.length },
  };
  const manifest: SynthManifest = { generator: 'laxray synth', version: 1, seed, count, raw, recipe, stats };
  await writeJson(files.manifest, manifest);
  return { outDir, count, seed, files, stats, seconds: (performance.now() - started) / 1000 };
}
