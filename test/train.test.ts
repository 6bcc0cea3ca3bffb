// The Trainer: run directory layout, checkpoints that always point at a complete
// state, exact resume (same loss curve as an uninterrupted run), NaN/Inf
// handling, evaluation. The first tests use a small deterministic stand-in for
// the native detector (an SGD-with-momentum model of a few numbers), so the
// trainer's own bookkeeping is checked exactly; the last ones train the real
// ResNet-18 ATSS+LAcls on tiny synthetic images.
import test, { type ExecutionContext } from 'ava';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveConfig, learningRateAt, type LaxrayConfig, type LaxrayConfigInput } from '../lib/config/index.js';
import { loadCocoDataset, type Batch, type Dataset, type TrainingBatch } from '../lib/data/index.js';
import { generateDataset } from '../lib/data/synth/generate.js';
import { readSafetensors, writeSafetensors, type TensorMap } from '../lib/checkpoint/safetensors.js';
import { Detector, type Detection, type OptimizerOptions, type StepResult } from '../lib/detector.js';
import { LaxrayError } from '../lib/errors.js';
import {
  Trainer,
  challengingImageIds,
  datasetGroundTruth,
  evaluate,
  evaluateDetector,
  readLatestCheckpoint,
  type IterationEvent,
  type TrainEvent,
  type TrainableDetector,
} from '../lib/train/index.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'laxray-train-'));
const dataDir = path.join(tmp, 'data');

let ready: Promise<{ train: Dataset; val: Dataset; all: Dataset }> | undefined;
/** 10 synthetic 128×128 scans (train 8, val 1, test 1), generated once. */
function data() {
  ready ??= (async () => {
    await generateDataset({ outDir: dataDir, count: 10, seed: 3, recipe: { width: 128, height: 128 }, workers: 1 });
    return {
      train: await loadCocoDataset(path.join(dataDir, 'train.json')),
      val: await loadCocoDataset(path.join(dataDir, 'val.json')),
      all: await loadCocoDataset(path.join(dataDir, 'all.json')),
    };
  })();
  return ready;
}

const tinyConfig = (train: LaxrayConfigInput['train'] = {}, extra: LaxrayConfigInput = {}): LaxrayConfig =>
  resolveConfig({
    preset: 'atss-lacls',
    ...extra,
    model: { backbone: { depth: 18 }, neck: { outChannels: 64 }, head: { featChannels: 64, stackedConvs: 1 }, ...extra.model },
    data: { imageScale: [128, 128], workers: 0, prefetch: 1, ...extra.data },
    train: { batchSize: 2, epochs: 2, warmupIters: 2, lrSteps: [1], checkpointEvery: 3, seed: 7, ...train },
  });

// ------------------------------------------------------------------ stand-in

/**
 * A deterministic model with the Detector's training API: parameters w (4
 * numbers), SGD with momentum and weight decay on the loss Σ (w − t)² where t
 * comes from the batch's pixels and boxes. Its loss depends on everything the
 * trainer must carry over a resume: weights, momentum, lr, the batch order.
 */
class FakeDetector implements TrainableDetector {
  w = new Float32Array([0.5, -0.25, 1, 2]);
  buf: Float32Array | null = null;
  opts: OptimizerOptions | null = null;
  steps = 0;
  /** Step numbers (1-based, counted by this instance) that report non-finite. */
  nonFiniteFrom = Infinity;
  constructor(readonly config: LaxrayConfig) {}

  configureOptimizer(options: OptimizerOptions): void {
    this.opts = options;
  }
  async trainStep(batch: TrainingBatch, lr: number): Promise<StepResult> {
    if (this.opts === null) throw new Error('configureOptimizer was not called');
    this.steps++;
    let mean = 0;
    for (let i = 0; i < batch.data.length; i += 97) mean += batch.data[i]!;
    mean /= Math.ceil(batch.data.length / 97);
    const boxes = batch.targets.reduce((s, t) => s + t.boxes.reduce((a, b) => a + b, 0), 0) / 1000;
    const target = [mean, boxes, batch.metas.length, batch.metas[0]!.flipped ? 1 : -1];
    if (this.steps >= this.nonFiniteFrom) return { losses: { cls: Number.NaN, box: 1 }, total: Number.NaN, finite: false, numPositives: 3, gradNorm: Number.NaN };
    const grad = new Float32Array(4);
    let loss = 0;
    for (let k = 0; k < 4; k++) {
      const d = this.w[k]! - target[k]!;
      loss += d * d;
      grad[k] = 2 * d + this.opts.weightDecay * this.w[k]!;
    }
    if (this.buf === null) this.buf = grad.slice();
    else for (let k = 0; k < 4; k++) this.buf[k] = this.opts.momentum * this.buf[k]! + grad[k]!;
    for (let k = 0; k < 4; k++) this.w[k] = this.w[k]! - lr * this.buf[k]!;
    return { losses: { cls: loss / 2, box: loss / 2 }, total: loss, finite: true, numPositives: 3, gradNorm: Math.hypot(...grad) };
  }
  async saveWeights(file: string, metadata: Record<string, string> = {}): Promise<void> {
    await writeSafetensors(file, { w: { data: this.w.slice(), shape: [4] } }, { config: JSON.stringify(this.config), ...metadata });
  }
  async loadWeights(file: string): Promise<void> {
    const { tensors } = await readSafetensors(file);
    this.w = Float32Array.from(tensors.w!.data);
  }
  async optimizerState(): Promise<TensorMap> {
    return this.buf === null ? {} : { w: { data: this.buf.slice(), shape: [4] } };
  }
  async loadOptimizerState(state: TensorMap): Promise<void> {
    this.buf = state.w ? Float32Array.from(state.w.data) : null;
  }
  async detect(batch: Batch): Promise<Detection[][]> {
    // a perfect detector: the ground truth of each image, read from the dataset
    return batch.metas.map((m) => {
      const image = this.gt.get(m.imageId);
      if (!image) return [];
      const out: Detection[] = [];
      for (let j = 0; j < image.annotations.ids.length; j++) {
        const b = image.annotations.boxes;
        out.push({ box: [b[4 * j]!, b[4 * j + 1]!, b[4 * j + 2]!, b[4 * j + 3]!], score: 0.9, label: image.annotations.labels[j]!, category: '' });
      }
      return out;
    });
  }
  gt = new Map<number, Dataset['images'][number]>();
}

async function collect(trainer: Trainer): Promise<TrainEvent[]> {
  const events: TrainEvent[] = [];
  for await (const e of trainer.train()) events.push(e);
  return events;
}
const iterations = (events: TrainEvent[]) => events.filter((e): e is IterationEvent => e.type === 'iteration');

test('a run writes config.json, checkpoints with latest.json, metrics.jsonl and the report', async (t) => {
  const { train, val } = await data();
  const config = tinyConfig();
  const detector = new FakeDetector(config);
  for (const im of val.images) detector.gt.set(im.id, im);
  const runDir = path.join(tmp, 'layout');
  const trainer = new Trainer({ detector, train, val, runDir });
  const seen: string[] = [];
  trainer.on('event', (e: TrainEvent) => seen.push(e.type));
  const events = await collect(trainer);
  t.deepEqual(seen, events.map((e) => e.type), 'every yielded event is also emitted');
  t.is(events[0]!.type, 'start');
  t.is(events.at(-1)!.type, 'done');

  const perEpoch = Math.ceil(train.images.filter((im) => im.annotations.ids.length > 0).length / 2);
  const its = iterations(events);
  t.is(its.length, 2 * perEpoch);
  // learning rates follow lib/config's schedule (warm-up, step at epoch 1)
  its.forEach((e, i) => t.is(e.lr, learningRateAt(config, i, e.epoch)));
  t.true(its.every((e) => e.etaSeconds >= 0 && e.imagesPerSecond > 0));
  t.is(its.at(-1)!.etaSeconds, 0);

  t.deepEqual(JSON.parse(readFileSync(path.join(runDir, 'config.json'), 'utf8')), JSON.parse(JSON.stringify(config)));
  const latest = JSON.parse(readFileSync(path.join(runDir, 'checkpoints', 'latest.json'), 'utf8'));
  t.deepEqual(latest, { weights: `iter_${2 * perEpoch}.safetensors`, optimizer: `iter_${2 * perEpoch}.optimizer.safetensors`, state: `iter_${2 * perEpoch}.json`, iteration: 2 * perEpoch });
  const checkpoint = await readLatestCheckpoint(runDir);
  t.is(checkpoint.state.epoch, 2);
  t.is(checkpoint.state.batch, 0);
  t.is(checkpoint.state.lossHistory.length, 2 * perEpoch);
  t.is(checkpoint.state.seed, 7);
  const reasons = events.filter((e) => e.type === 'checkpoint').map((e) => (e.type === 'checkpoint' ? `${e.reason}@${e.iteration}` : ''));
  t.true(reasons.includes(`epoch@${perEpoch}`) && reasons.includes(`epoch@${2 * perEpoch}`), reasons.join(' '));
  t.true(reasons.includes('interval@3'), reasons.join(' '));
  // at most 3 checkpoints kept
  t.true(readdirSync(path.join(runDir, 'checkpoints')).filter((f) => f.endsWith('.json') && f !== 'latest.json').length <= 3);

  const lines = readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as TrainEvent);
  t.is(lines.length, events.length);
  t.deepEqual(lines.map((l) => l.type), events.map((e) => e.type));

  // the stand-in detects the ground truth exactly: AP 1 on every validation
  const validations = events.filter((e) => e.type === 'validation');
  t.is(validations.length, 2);
  for (const v of validations) if (v.type === 'validation') t.true(Math.abs(v.stats.AP! - 1) < 1e-9);
  for (const f of ['loss.png', 'map.png', 'summary.txt', 'val_detections.json']) t.true(existsSync(path.join(runDir, 'report', f)), f);
  const summary = readFileSync(path.join(runDir, 'report', 'summary.txt'), 'utf8');
  t.regex(summary, /Per class/);
  t.regex(summary, /all images\s+100\.0/);
  t.true(readdirSync(path.join(runDir, 'report', 'detections')).length >= 1);
});

test('iteration events report the data wait: the first batch waits for its decode; behind a slow step, prefetching workers leave none', async (t) => {
  const { train } = await data();
  /** A training step that takes 300 ms, as a real one does, so the loader can work ahead. */
  class SlowStep extends FakeDetector {
    override async trainStep(batch: TrainingBatch, lr: number): Promise<StepResult> {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return super.trainStep(batch, lr);
    }
  }
  const config = tinyConfig({ epochs: 1 }, { data: { workers: 2, prefetch: 2 } });
  const its = iterations(await collect(new Trainer({ detector: new SlowStep(config), train, runDir: path.join(tmp, 'data-wait'), workers: 2 })));
  t.true(its.length >= 3);
  t.true(its.every((e) => Number.isFinite(e.dataWaitSeconds) && e.dataWaitSeconds >= 0));
  t.true(its[0]!.dataWaitSeconds > 0, 'nothing is decoded before the first step asks');
  for (const e of its.slice(1)) t.true(e.dataWaitSeconds < 0.15, `step ${e.iteration} waited ${e.dataWaitSeconds} s for data that was prefetched during a 300 ms step`);
});

test('resume continues exactly: interrupted after k iterations, the loss curve equals an uninterrupted run', async (t) => {
  const { train } = await data();
  const config = tinyConfig({ epochs: 3, checkpointEvery: 100 });
  const whole = await collect(new Trainer({ detector: new FakeDetector(config), train, runDir: path.join(tmp, 'whole') }));
  const reference = iterations(whole).map((e) => e.losses);

  for (const k of [1, 4, 5]) {
    const runDir = path.join(tmp, `resume-${k}`);
    const first = await collect(new Trainer({ detector: new FakeDetector(config), train, runDir, maxIterations: k }));
    const done = first.at(-1)!;
    t.true(done.type === 'done' && !done.completed && done.iteration === k);
    t.is((await readLatestCheckpoint(runDir)).state.iteration, k);
    // a fresh process: new detector with its initial weights; everything comes from the checkpoint
    const second = await collect(new Trainer({ detector: new FakeDetector(config), train, runDir, resume: true }));
    const start = second[0]!;
    t.true(start.type === 'start' && start.iteration === k && start.resumedFrom !== null);
    const losses = [...iterations(first), ...iterations(second)].map((e) => e.losses);
    t.deepEqual(losses, reference, `interrupted after ${k}`);
    const state = (await readLatestCheckpoint(runDir)).state;
    t.deepEqual(state.lossHistory.map((r) => r.losses), reference);
    // metrics.jsonl holds each iteration once
    const its = readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((e) => e.type === 'iteration');
    t.deepEqual(its.map((e) => e.iteration), reference.map((_, i) => i + 1));
  }
});

test('a fresh run refuses a run directory that already holds a run; resume without a checkpoint says so', async (t) => {
  const { train } = await data();
  const config = tinyConfig({ epochs: 1 });
  const runDir = path.join(tmp, 'twice');
  await new Trainer({ detector: new FakeDetector(config), train, runDir, maxIterations: 1 }).run();
  const again = await t.throwsAsync(new Trainer({ detector: new FakeDetector(config), train, runDir }).run(), { instanceOf: LaxrayError });
  t.regex(again!.message, /already holds a training run.*--resume/);
  const none = await t.throwsAsync(new Trainer({ detector: new FakeDetector(config), train, runDir: path.join(tmp, 'empty'), resume: true }).run(), { instanceOf: LaxrayError });
  t.is(none!.code, 'CHECKPOINT_ERROR');
  t.regex(none!.message, /no checkpoint/);
});

test('non-finite steps are counted and warned about; K in a row stop the run naming the last good checkpoint', async (t) => {
  const { train } = await data();
  const config = tinyConfig({ epochs: 5, checkpointEvery: 2, maxNonFiniteInARow: 3 });
  const detector = new FakeDetector(config);
  detector.nonFiniteFrom = 4; // steps 4, 5, 6 are non-finite
  const runDir = path.join(tmp, 'nan');
  const trainer = new Trainer({ detector, train, runDir });
  const warnings: TrainEvent[] = [];
  trainer.on('non-finite', (e: TrainEvent) => warnings.push(e));
  const err = await t.throwsAsync(trainer.run(), { instanceOf: LaxrayError });
  t.is(err!.code, 'TRAINING_DIVERGED');
  t.is(warnings.length, 3);
  t.deepEqual(warnings.map((w) => (w.type === 'non-finite' ? w.inARow : 0)), [1, 2, 3]);
  const last = path.join(runDir, 'checkpoints', 'iter_2.safetensors');
  t.true(err!.message.includes(last), err!.message);
  t.regex(err!.message, /3 non-finite .* in a row/);
  // the checkpoint is intact and latest.json points at it
  const checkpoint = await readLatestCheckpoint(runDir);
  t.is(checkpoint.state.iteration, 2);
  const { tensors } = await readSafetensors(checkpoint.files.weights);
  t.true(Array.from(tensors.w!.data).every(Number.isFinite));
});

test('challenging subset and ground truth come from the dataset as the synthetic generator marks them', async (t) => {
  const { all } = await data();
  const expected = JSON.parse(readFileSync(path.join(dataDir, 'challenging.json'), 'utf8')) as Record<string, number[]>;
  t.deepEqual(challengingImageIds(all), [...expected.train!, ...expected.val!, ...expected.test!].sort((a, b) => a - b));
  const gt = datasetGroundTruth(all);
  const raw = JSON.parse(readFileSync(path.join(dataDir, 'all.json'), 'utf8'));
  t.is(gt.annotations.length, raw.annotations.length);
  t.deepEqual(gt.annotations.map((a) => a.bbox), raw.annotations.map((a: { bbox: number[] }) => a.bbox));

  const detector = new FakeDetector(tinyConfig());
  for (const im of all.images) detector.gt.set(im.id, im);
  const result = await evaluate(detector, all, { batchSize: 3 });
  t.true(Math.abs(result.stats.AP - 1) < 1e-9);
  t.is(result.counts.images, all.images.length);
  const subset = await evaluateDetector(detector, all);
  t.deepEqual(subset.challengingImageIds, challengingImageIds(all));
  if (subset.challengingImageIds.length > 0) t.true(Math.abs(subset.challenging!.stats.AP - 1) < 1e-9);
});

test('a detector whose class count differs from the dataset is refused, naming both', async (t) => {
  const { train } = await data();
  const config = tinyConfig({}, { classes: ['a', 'b', 'c'] });
  const err = t.throws(() => new Trainer({ detector: new FakeDetector(config), train, runDir: path.join(tmp, 'classes') }), { instanceOf: LaxrayError });
  t.regex(err!.message, /numClasses is 3 .* has 12 categories/);
});

// ------------------------------------------------------------------ native

/** Tests of the real network (serial: they share the two cores). */
const nativeTest = (title: string, body: (t: ExecutionContext) => Promise<void>) => test.serial(title, body);

nativeTest('real detector: 2 iterations, checkpoint, resume; the resumed losses match an uninterrupted run to 1e-5', async (t) => {
  const { train, val } = await data();
  const config = tinyConfig({ epochs: 1, checkpointEvery: 100, batchSize: 2, warmupIters: 0, baseLr: 0.005, baseBatchSize: 2 });
  // both runs start from the same initial weights
  const init = path.join(tmp, 'init.safetensors');
  const a = await Detector.create(config);
  await a.saveWeights(init);
  const whole = await collect(new Trainer({ detector: a, train, val, runDir: path.join(tmp, 'native-whole'), maxIterations: 4, reportSamples: 1 }));
  const reference = iterations(whole);
  t.is(reference.length, 4);
  t.true(reference.every((e) => e.finite && Number.isFinite(e.total) && e.total > 0));

  const runDir = path.join(tmp, 'native-resume');
  const b = await Detector.create(config);
  await b.loadWeights(init);
  const first = await collect(new Trainer({ detector: b, train, val, runDir, maxIterations: 2 }));
  t.is(iterations(first).length, 2);
  const c = await Detector.create(config);
  const second = await collect(new Trainer({ detector: c, train, val, runDir, resume: true, maxIterations: 4 }));
  const resumed = [...iterations(first), ...iterations(second)];
  t.is(resumed.length, 4);
  let worst = 0;
  resumed.forEach((e, i) => {
    const r = reference[i]!;
    for (const [k, v] of Object.entries(r.losses)) {
      worst = Math.max(worst, Math.abs(e.losses[k]! - v) / Math.max(1, Math.abs(v)));
      t.true(Math.abs(e.losses[k]! - v) <= 1e-5 * Math.max(1, Math.abs(v)), `iteration ${i + 1} ${k}: ${e.losses[k]} vs ${v}`);
    }
  });
  t.log(`losses ${reference.map((e) => e.total.toFixed(5)).join(', ')}; largest relative difference after resume ${worst.toExponential(2)}`);
});

nativeTest('real detector: an absurd learning rate gives non-finite steps and stops with TRAINING_DIVERGED', async (t) => {
  const { train } = await data();
  const config = tinyConfig({ epochs: 20, baseLr: 1e12, warmupIters: 0, maxNonFiniteInARow: 2, checkpointEvery: 1000 });
  const detector = await Detector.create(config);
  const trainer = new Trainer({ detector, train, runDir: path.join(tmp, 'native-nan') });
  const err = await t.throwsAsync(trainer.run(), { instanceOf: LaxrayError });
  t.is(err!.code, 'TRAINING_DIVERGED');
  t.regex(err!.message, /iter_0\.safetensors/);
});
