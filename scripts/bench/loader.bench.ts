// Loader throughput: images/s through the full training pipeline (decode →
// keep-ratio resize to fit 1333×800 → flip → normalise → pad → collate, batch 8)
// on generated ~700×1000 scans, for several worker counts, JPEG and PNG.
// Prints one JSON line per configuration (reportBenchmark).
//
//   node --import tsx -e "import('./scripts/bench/loader.bench.ts').then(m=>m.run())"
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { parseCocoDataset } from '../../lib/data/coco.js';
import { DataLoader } from '../../lib/data/loader.js';
import { collate } from '../../lib/data/collate.js';
import { normalizationTable, normalizeToCHW, resizedSize } from '../../lib/data/transforms.js';
import { defaultWorkerCount } from '../../lib/data/decode_pool.js';
import { reportBenchmark } from './machine.js';

const IMAGES = 64;
const STEP_MS = 500;
const FORMATS = (process.env.LAXRAY_BENCH_FORMATS ?? 'jpeg,png').split(',') as ('jpeg' | 'png')[];
const BATCH = 8;

/** A smooth, scan-like picture (gradients, blobs, mild noise), so JPEG/PNG sizes are realistic. */
function scanPixels(width: number, height: number, seed: number): Buffer {
  const raw = Buffer.alloc(width * height * 3);
  let s = seed * 2654435761 || 1;
  const rnd = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
  const blobs = Array.from({ length: 6 }, () => ({ x: rnd() * width, y: rnd() * height, r: 40 + rnd() * 200, c: [rnd() * 200, rnd() * 200, rnd() * 200] }));
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      let r = 235 - (y / height) * 30;
      let g = 235 - (x / width) * 20;
      let b = 240;
      for (const bl of blobs) {
        const d = (x - bl.x) ** 2 + (y - bl.y) ** 2;
        if (d < bl.r * bl.r) {
          r = bl.c[0]!;
          g = bl.c[1]!;
          b = bl.c[2]!;
        }
      }
      const n = (rnd() - 0.5) * 16;
      raw[i] = Math.max(0, Math.min(255, r + n));
      raw[i + 1] = Math.max(0, Math.min(255, g + n));
      raw[i + 2] = Math.max(0, Math.min(255, b + n));
    }
  }
  return raw;
}

async function makeDataset(dir: string, format: 'jpeg' | 'png'): Promise<ReturnType<typeof parseCocoDataset>> {
  const images = [];
  const annotations = [];
  for (let i = 0; i < IMAGES; i++) {
    // Mostly portrait ~700×1000 with some variation, as X-ray scans are.
    const width = 660 + ((i * 13) % 80);
    const height = 960 + ((i * 29) % 80);
    const file = `${i}.${format === 'jpeg' ? 'jpg' : 'png'}`;
    const img = sharp(scanPixels(width, height, i + 1), { raw: { width, height, channels: 3 } });
    await writeFile(path.join(dir, file), await (format === 'jpeg' ? img.jpeg({ quality: 90 }) : img.png()).toBuffer());
    images.push({ id: i + 1, file_name: file, width, height });
    annotations.push({ id: 2 * i + 1, image_id: i + 1, category_id: 1, bbox: [50, 60, 200, 150] }, { id: 2 * i + 2, image_id: i + 1, category_id: 2, bbox: [300, 400, 120, 300] });
  }
  return parseCocoDataset(
    { images, annotations, categories: [{ id: 1, name: 'knife' }, { id: 2, name: 'scissors' }] },
    { imageRoot: dir },
  );
}

/** Per-stage cost on one thread, one image at a time: where the time goes. */
async function stages(dataset: Awaited<ReturnType<typeof parseCocoDataset>>, format: string): Promise<void> {
  const images = dataset.images.slice(0, 16);
  const lut = normalizationTable();
  let decodeMs = 0;
  let normalizeMs = 0;
  let outputs: { w: number; h: number; px: Uint8Array }[] = [];
  const scratch = new Float32Array(3 * 1333 * 800);
  for (let rep = 0; rep < 2; rep++) {
    outputs = [];
    decodeMs = 0;
    normalizeMs = 0;
    for (const im of images) {
      const { width, height } = resizedSize(im.width, im.height);
      let t = performance.now();
      const px = await sharp(im.path).resize(width, height, { fit: 'fill', kernel: 'linear', fastShrinkOnLoad: false }).toColourspace('srgb').removeAlpha().raw().toBuffer();
      decodeMs += performance.now() - t;
      t = performance.now();
      normalizeToCHW(px, width, height, 3, { lut, flip: true }, scratch);
      normalizeMs += performance.now() - t;
      outputs.push({ w: width, h: height, px });
    }
  }
  const prepared = outputs.slice(0, BATCH).map((o, i) => ({
    data: normalizeToCHW(o.px, o.w, o.h, 3, { lut }),
    meta: { imageId: i, originalWidth: 0, originalHeight: 0, resizedWidth: o.w, resizedHeight: o.h, scaleX: 1, scaleY: 1, flipped: false },
  }));
  let t = performance.now();
  const fresh = collate(prepared);
  const collateFreshMs = performance.now() - t;
  t = performance.now();
  collate(prepared, { out: fresh.data.buffer as ArrayBuffer });
  const collateReusedMs = performance.now() - t;
  reportBenchmark('loader-stages', {
    format,
    note: 'one thread, one image at a time (second pass)',
    decodeResizeMsPerImage: Number((decodeMs / images.length).toFixed(1)),
    normalizeMsPerImage: Number((normalizeMs / images.length).toFixed(1)),
    collateMsPerBatchFreshMemory: Number(collateFreshMs.toFixed(1)),
    collateMsPerBatchReusedMemory: Number(collateReusedMs.toFixed(1)),
    batchShape: fresh.shape,
    loadAverage1m: Number(os.loadavg()[0]!.toFixed(2)),
  });
}

export async function run(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'laxray-loader-bench-'));
  try {
    for (const format of FORMATS) {
      const fdir = path.join(dir, format);
      await import('node:fs/promises').then((fs) => fs.mkdir(fdir));
      const dataset = await makeDataset(fdir, format);
      await stages(dataset, format);
      // The default set-up (workers = cores, batches recycled), then variations:
      // on the calling thread, without recycling, and with a consumer that spends
      // STEP_MS per batch (a training step) to show whether it ever waits for data.
      const cores = defaultWorkerCount();
      const configs =
        format === 'jpeg'
          ? [
              { workers: cores, recycle: true, stepMs: 0 },
              { workers: 0, recycle: true, stepMs: 0 },
              { workers: cores, recycle: false, stepMs: 0 },
              { workers: cores, recycle: true, stepMs: STEP_MS },
            ]
          : [{ workers: cores, recycle: true, stepMs: 0 }];
      for (const { workers, recycle, stepMs } of configs) {
        const loader = new DataLoader(dataset, { batchSize: BATCH, workers, seed: 0, prefetch: 2 });
        for await (const b of loader) if (recycle) loader.recycle(b); // warm-up epoch: worker start-up, sharp caches
        const epochs = 2;
        const waitBefore = loader.stats.waitMs;
        const loadBefore = os.loadavg()[0]!;
        const cpuBefore = process.cpuUsage();
        const t0 = performance.now();
        let images = 0;
        let shape: number[] = [];
        for (let e = 0; e < epochs; e++) {
          for await (const batch of loader) {
            images += batch.metas.length;
            shape = batch.shape;
            if (stepMs > 0) await new Promise((r) => setTimeout(r, stepMs));
            if (recycle) loader.recycle(batch); // what a training loop does after its step
          }
        }
        const seconds = (performance.now() - t0) / 1000;
        // CPU time of this process (all threads: main, workers, libuv/libvips) — less
        // sensitive than wall time to other processes competing for the cores.
        const cpu = process.cpuUsage(cpuBefore);
        await loader.close();
        reportBenchmark('loader', {
          format,
          workers,
          recycle,
          consumerStepMs: stepMs,
          batchSize: BATCH,
          scale: [1333, 800],
          images,
          inputSize: '~700×1000',
          lastBatchShape: shape,
          seconds: Number(seconds.toFixed(3)),
          imagesPerSecond: Number((images / seconds).toFixed(1)),
          msPerBatch: Number(((seconds * 1000 * BATCH) / images).toFixed(1)),
          cpuMsPerImage: Number(((cpu.user + cpu.system) / 1000 / images).toFixed(1)),
          consumerWaitMs: Number((loader.stats.waitMs - waitBefore).toFixed(1)),
          consumerWaitMsPerBatch: Number((((loader.stats.waitMs - waitBefore) * BATCH) / images).toFixed(1)),
          resize: 'sharp linear (bilinear), keep ratio',
          // Other processes on the machine skew these figures: the 1-minute load average before/after.
          loadAverage1m: [Number(loadBefore.toFixed(2)), Number(os.loadavg()[0]!.toFixed(2))],
          sharpVersion: sharp.versions.sharp,
          vipsVersion: sharp.versions.vips,
        });
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
