// One GPU benchmark case in its own process (so each starts with an empty
// CUDA cache and its memory figure is its own), run by gpu.bench.ts:
//   node --import tsx scripts/bench/gpu/case.ts '<json Case>'
// Prints one JSON line: throughput, latency, memory reserved on the device.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Detector } from '../../../lib/detector.js';
import { native } from '../../../lib/native.js';
import type { LaxrayConfigInput } from '../../../lib/config/index.js';
import type { TrainingBatch } from '../../../lib/data/index.js';

export interface GpuCase {
  mode: 'infer' | 'train' | 'train-loader';
  preset: 'atss' | 'atss-lacls';
  precision: 'fp32' | 'tf32' | 'bf16' | 'fp16';
  batch: number;
  iterations: number;
  /** [H, W] of the padded input. */
  size: [number, number];
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

function config(c: GpuCase): LaxrayConfigInput {
  return { preset: c.preset, device: 'cuda', precision: c.precision, model: { backbone: { depth: 50 } } };
}

function syntheticBatch(c: GpuCase, seed: number): TrainingBatch {
  const [height, width] = c.size;
  const data = new Float32Array(c.batch * 3 * height * width);
  for (let i = 0; i < data.length; i += 7) data[i] = Math.sin(i * 0.0007 + seed);
  const targets = Array.from({ length: c.batch }, (_, i) => {
    const boxes = new Float32Array(5 * 4);
    for (let k = 0; k < 5; k++) {
      const x = 50 + ((i * 131 + k * 257 + seed * 17) % (width - 400));
      const y = 40 + ((i * 97 + k * 173 + seed * 11) % (height - 300));
      boxes.set([x, y, x + 60 + 40 * k, y + 50 + 30 * k], 4 * k);
    }
    return { boxes, labels: Int32Array.from([0, 3, 5, 7, 11]), ignoreBoxes: new Float32Array(0), annotationIds: [1, 2, 3, 4, 5] };
  });
  const metas = Array.from({ length: c.batch }, (_, i) => ({
    imageId: i, originalWidth: width, originalHeight: height, resizedWidth: width, resizedHeight: height,
    scaleX: 1, scaleY: 1, flipped: false, padRight: 0, padBottom: 0,
  }));
  return { data, shape: [c.batch, 3, height, width], metas, targets, epoch: 0, index: seed };
}

async function timed(fn: () => Promise<unknown>, iterations: number): Promise<number[]> {
  const ms: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = process.hrtime.bigint();
    await fn();
    ms.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return ms;
}

/** The data path: synthetic 1333×800 scans through the real loader and Trainer; the data wait per step. */
async function trainWithLoader(c: GpuCase): Promise<Record<string, unknown>> {
  const { generateDataset } = await import('../../../lib/data/synth/generate.js');
  const { loadCocoDataset } = await import('../../../lib/data/index.js');
  const { Trainer } = await import('../../../lib/train/index.js');
  const dir = mkdtempSync(path.join(tmpdir(), 'laxray-gpu-loader-'));
  try {
    await generateDataset({ outDir: dir, count: c.batch * (c.iterations + 2), seed: 1, recipe: { width: [1200, 1333], height: [700, 800], split: [1, 0, 0] } });
    const train = await loadCocoDataset(path.join(dir, 'train.json'));
    const detector = await Detector.create({ ...config(c), data: { imageScale: [1333, 800] }, train: { batchSize: c.batch, epochs: 1, checkpointEvery: 10_000 } });
    const waits: number[] = [];
    const ips: number[] = [];
    for await (const e of new Trainer({ detector, train, runDir: path.join(dir, 'run'), maxIterations: c.iterations + 1, reportSamples: 0 }).train()) {
      if (e.type === 'iteration') {
        waits.push(e.dataWaitSeconds);
        ips.push(e.imagesPerSecond);
      }
    }
    const steady = waits.slice(1); // the first batch always waits for its decode
    return { dataWaitSecondsPerStep: waits.map((w) => Math.round(w * 1000) / 1000), meanDataWaitAfterFirst: steady.reduce((a, b) => a + b, 0) / Math.max(1, steady.length), imagesPerSecond: ips.at(-1) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runCase(c: GpuCase): Promise<Record<string, unknown>> {
  await native.tensorFrom(new Float32Array(1), [1], 'cuda'); // CUDA context first: the baseline holds it
  const baseline = await native.cudaMemoryInUse(0);
  if (c.mode === 'train-loader') return { ...(await trainWithLoader(c)), memoryReservedBytes: (await native.cudaMemoryInUse(0)) - baseline };
  const detector = await Detector.create(config(c));
  const batch = syntheticBatch(c, 0);
  const warmup = 3;
  let ms: number[];
  if (c.mode === 'infer') {
    const input = { data: batch.data, shape: batch.shape };
    await timed(() => detector.detect(input), warmup);
    ms = await timed(() => detector.detect(input), c.iterations);
  } else {
    await timed(() => detector.trainStep(batch, 0.01), warmup);
    ms = await timed(() => detector.trainStep(batch, 0.01), c.iterations);
  }
  const total = ms.reduce((a, b) => a + b, 0);
  return {
    imagesPerSecond: Math.round(((c.batch * c.iterations) / (total / 1000)) * 10) / 10,
    medianMsPerBatch: Math.round(median(ms) * 10) / 10,
    memoryReservedBytes: (await native.cudaMemoryInUse(0)) - baseline,
  };
}

if (process.argv[2]) {
  const c = JSON.parse(process.argv[2]) as GpuCase;
  try {
    process.stdout.write(JSON.stringify({ case: c, ...(await runCase(c)) }) + '\n');
  } catch (err) {
    process.stdout.write(JSON.stringify({ case: c, error: (err as Error).message }) + '\n');
    process.exitCode = 1;
  }
}
