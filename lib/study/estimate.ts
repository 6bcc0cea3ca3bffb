// How long a study will take, before it starts: time a few training steps and
// a detection pass of each method on a small calibration set drawn from the
// benchmark's recipe, then extrapolate to the planned iterations and test
// passes. Figures measured on a shared machine are pessimistic.
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Detector } from '../detector.js';
import { DataLoader, loadCocoDataset, pipelineOptions } from '../data/index.js';
import { generateDataset } from '../data/synth/index.js';
import { detectDataset } from '../train/index.js';
import { laWeightStats } from './la_weights.js';
import { runConfig } from './run.js';
import type { StudyMethod } from './methods.js';
import type { StudyProfile } from './profiles.js';

export interface MethodTiming {
  method: string;
  /** Median seconds of one training step (batch of config.train.batchSize), the first step left out. */
  secondsPerIteration: number;
  /** Seconds per image of detection (inference pipeline, batches of batchSize). */
  secondsPerDetectImage: number;
  /** Seconds per image of inspect() (LA weight statistics); null without LA. */
  secondsPerInspectImage: number | null;
}

export interface Calibration {
  timings: MethodTiming[];
  /** Synthetic images rendered per second (data generation). */
  synthImagesPerSecond: number;
  steps: number;
  seconds: number;
  /** 1-minute load average and CPU count when it finished: a load above the CPU count makes the estimate pessimistic. */
  load: number;
  cpus: number;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Times `steps` training steps (after one untimed warm-up step) and a
 * detection pass of each method, on `steps + 1` batches of images generated
 * from the profile's recipe into `dir` (removed afterwards). Yields each
 * method's name as its timing starts.
 */
export async function* calibrate(
  profile: StudyProfile,
  methods: readonly StudyMethod[],
  options: { dir: string; steps?: number; device?: string; pretrained?: string | null },
): AsyncGenerator<string, Calibration, undefined> {
  const started = performance.now();
  const steps = options.steps ?? 4;
  const batchSize = runConfig({ profile, method: methods[0]!, seed: 0, data: { train: 'x.json', val: 'x.json' } }).train.batchSize;
  const count = batchSize * (steps + 1);
  await fs.rm(options.dir, { recursive: true, force: true });
  try {
    const synthStarted = performance.now();
    const generated = await generateDataset({ outDir: options.dir, count, seed: profile.benchmark.seed + 1, recipe: { ...profile.benchmark.recipe, split: [1, 0, 0] }, workers: 1 });
    const synthImagesPerSecond = count / ((performance.now() - synthStarted) / 1000);
    const images = await loadCocoDataset(generated.files.train);
    const timings: MethodTiming[] = [];
    for (const method of methods) {
      yield method.name;
      const config = runConfig({
        profile,
        method,
        seed: 0,
        data: { train: generated.files.train, val: generated.files.train },
        ...(options.device !== undefined ? { device: options.device } : {}),
        ...(options.pretrained ? { pretrained: options.pretrained } : {}),
      });
      const detector = await Detector.create(config);
      const t = config.train;
      detector.configureOptimizer({ momentum: t.momentum, weightDecay: t.weightDecay, gradClipNorm: t.gradClipNorm });
      const loader = new DataLoader(images, {
        batchSize,
        train: true,
        seed: 0,
        ...pipelineOptions(config.data),
        workers: 1,
      });
      const times: number[] = [];
      try {
        let tick = performance.now();
        for await (const batch of loader.iterate({ epoch: 0 })) {
          await detector.trainStep(batch, t.baseLr * t.warmupRatio);
          loader.recycle(batch);
          const now = performance.now();
          times.push((now - tick) / 1000);
          tick = now;
        }
      } finally {
        await loader.close();
      }
      const detected = await detectDataset(detector, images, { batchSize, workers: 1 });
      let inspectSeconds: number | null = null;
      if (method.la !== null) {
        const s = performance.now();
        await laWeightStats(detector, images, { batchSize });
        inspectSeconds = (performance.now() - s) / 1000 / images.images.length;
      }
      timings.push({
        method: method.name,
        secondsPerIteration: median(times.slice(1)),
        secondsPerDetectImage: detected.seconds / images.images.length,
        secondsPerInspectImage: inspectSeconds,
      });
    }
    return { timings, synthImagesPerSecond, steps, seconds: (performance.now() - started) / 1000, load: os.loadavg()[0]!, cpus: os.cpus().length };
  } finally {
    await fs.rm(options.dir, { recursive: true, force: true });
  }
}

/** The work left in one run. */
export interface RunWork {
  method: string;
  seed: number;
  /** Training iterations still to do. */
  iterations: number;
  /** Validation passes still to do, and the validation images of each. */
  validations: number;
  valImages: number;
  /** Test images to evaluate (0 when the run is finished). */
  testImages: number;
  la: boolean;
}

/** Seconds a run's remaining work takes at the measured pace. */
export function estimateRunSeconds(work: RunWork, timing: MethodTiming): number {
  const train = work.iterations * timing.secondsPerIteration;
  const validation = work.validations * work.valImages * timing.secondsPerDetectImage;
  // LA models: detections with LA on and off, then inspect() for the weights
  const test = work.testImages * (work.la ? 2 * timing.secondsPerDetectImage + (timing.secondsPerInspectImage ?? timing.secondsPerDetectImage) : timing.secondsPerDetectImage);
  return train + validation + test;
}

export interface StudyEstimate {
  runs: { method: string; seed: number; seconds: number }[];
  dataSeconds: number;
  totalSeconds: number;
}

/** The whole study's estimate: data still to generate plus every run's remaining work. */
export function estimateStudy(work: readonly RunWork[], calibration: Calibration, imagesToGenerate: number): StudyEstimate {
  const byMethod = new Map(calibration.timings.map((t) => [t.method, t]));
  const runs = work.map((w) => {
    const timing = byMethod.get(w.method);
    return { method: w.method, seed: w.seed, seconds: timing === undefined ? 0 : estimateRunSeconds(w, timing) };
  });
  const dataSeconds = imagesToGenerate / calibration.synthImagesPerSecond;
  return { runs, dataSeconds, totalSeconds: dataSeconds + runs.reduce((a, r) => a + r.seconds, 0) };
}

/** The calibration's `path` under a study folder. */
export function calibrationDir(studyDir: string): string {
  return path.join(studyDir, 'calibration');
}
