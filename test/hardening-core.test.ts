// Issue 10, items 1–6: no pointer into a caller's typed array outlives the
// synchronous part of a call; state comes out as copies; a skipped training
// step changes nothing; optimiser settings, the learning rate, threads and
// input sizes are checked at the API edge; a weights file cannot choose the
// resources of the process that loads it.
import test from 'ava';
import os from 'node:os';
import path from 'node:path';
import { Detector } from '../lib/detector.js';
import { LaxrayError } from '../lib/errors.js';
import { native } from '../lib/native.js';
import { runtimeInfo, setThreads } from '../lib/index.js';
import { Tensor } from '../lib/tensor.js';
import { resolveConfig } from '../lib/config/index.js';
import { writeSafetensors } from '../lib/checkpoint/safetensors.js';
import sharp from 'sharp';
import { laxray, startNode, type ChildRun } from './helpers/cli.js';
import { REPO_ROOT } from './helpers/paths.js';
import { changedEntries, digest, modelBytes, randomBatch, smallConfig, trainingBatch } from './helpers/small-detector.js';
import { tempDir } from './helpers/temp_dir.js';

const tmp = tempDir('hardening');

/** Two detectors with the same initial weights: one for the call under test, one for the untouched reference. */
async function twins(config = smallConfig()): Promise<[Detector, Detector]> {
  return [await Detector.create(config), await Detector.create(config)];
}

/** What posting the array's buffer to a Worker does to the caller's array: detaches it. */
function transferAway(array: Float32Array): void {
  const buffer = array.buffer as ArrayBuffer;
  structuredClone(buffer, { transfer: [buffer] });
}

function copyOf<T extends { data: Float32Array }>(batch: T): T {
  return { ...batch, data: batch.data.slice() };
}

// ---------------------------------------------------------------- 1. inputs are copied at call time

test.serial('detect, inspect and trainStep use the batch as it was at the call: rewriting it right after changes nothing', async (t) => {
  const [a, b] = await twins();
  const input = randomBatch(1, 64, 64, 2);
  const spoiled = copyOf(input);
  const pendingInspect = b.inspect(spoiled);
  const pendingDetect = b.detect(spoiled);
  spoiled.data.fill(Number.NaN);
  t.is(digest(await pendingInspect), digest(await a.inspect(input)));
  t.is(digest(await pendingDetect), digest(await a.detect(input)));

  const batch = trainingBatch(2, 64, 3);
  const spoiledBatch = trainingBatch(2, 64, 3);
  const pendingStep = b.trainStep(spoiledBatch, 0.01);
  spoiledBatch.data.fill(3e38);
  for (const target of spoiledBatch.targets) {
    target.boxes.fill(-1);
    target.labels.fill(99);
  }
  t.is(digest(await pendingStep), digest(await a.trainStep(batch, 0.01)));
  t.deepEqual(changedEntries(await modelBytes(a), await modelBytes(b)), []);
});

test.serial('a batch transferred away right after the call (structuredClone with transfer) gives the same results', async (t) => {
  const [a, b] = await twins();
  const input = randomBatch(1, 64, 64, 4);
  const moved = copyOf(input);
  const pending = b.detect(moved);
  transferAway(moved.data);
  t.is(moved.data.length, 0, 'the caller’s array is detached');
  t.is(digest(await pending), digest(await a.detect(input)));

  const batch = trainingBatch(2, 64, 5);
  const movedBatch = trainingBatch(2, 64, 5);
  const step = b.trainStep(movedBatch, 0.01);
  transferAway(movedBatch.data);
  t.is(digest(await step), digest(await a.trainStep(batch, 0.01)));
});

function runChild(action: 'detach' | 'mutate'): Promise<ChildRun> {
  const child = path.join(REPO_ROOT, 'test', 'helpers', 'detach-child.ts');
  // One intra-op thread: the child calls the addon directly, so a call and the blocker that holds the
  // model overlap, and with a larger budget the call's share (and its float rounding) would depend on timing.
  return startNode(['--expose-gc', '--import', 'tsx', child, action], { cwd: REPO_ROOT, env: { LAXRAY_DEVICE: 'cpu', LAXRAY_NUM_THREADS: '1' } }).done;
}

for (const action of ['detach', 'mutate'] as const) {
  test.serial(`bindings copy typed arrays before returning: the caller's buffer ${action === 'detach' ? 'transferred and freed' : 'overwritten'} while the call waits changes nothing`, async (t) => {
    const { code, signal, stdout, stderr } = await runChild(action);
    t.is(signal, null, `the child died of ${signal}; its output:\n${stdout}\n${stderr.slice(-2000)}`);
    t.is(code, 0, stderr.slice(-2000));
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as { binding: string; touched: string; untouched: string });
    t.deepEqual(lines.map((l) => l.binding), ['detect', 'inspect', 'trainStep', 'loadStateDict', 'tensorFrom', 'nms']);
    for (const line of lines) t.is(line.touched, line.untouched, `${line.binding}: the result depends on what the caller did after the call`);
  });
}

// ---------------------------------------------------------------- 2. state comes out as copies

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

test.serial('stateDict and optimizerState are copies: a later step does not change them, writing into them does not change the model', async (t) => {
  const detector = await Detector.create(smallConfig());
  await detector.trainStep(trainingBatch(2, 64, 1), 0.01);
  const state = await detector.stateDict();
  const momentum = await detector.optimizerState();
  const name = 'backbone.layer1.0.conv1.weight';
  const held = Float32Array.from(state[name]!.data as Float32Array);
  const heldMomentum = Float32Array.from(momentum[name]!.data as Float32Array);
  const heldMean = Float32Array.from(state['backbone.bn1.running_mean']!.data as Float32Array);
  await detector.trainStep(trainingBatch(2, 64, 2), 0.01);
  t.true(sameBytes(state[name]!.data, held), 'a parameter held from stateDict() does not move with training');
  t.true(sameBytes(momentum[name]!.data, heldMomentum), 'a momentum buffer held from optimizerState() does not move');
  t.true(sameBytes(state['backbone.bn1.running_mean']!.data, heldMean), 'a BN buffer held from stateDict() does not move');

  const before = await modelBytes(detector);
  (state[name]!.data as Float32Array).fill(123);
  (momentum[name]!.data as Float32Array).fill(123);
  (state['backbone.bn1.running_mean']!.data as Float32Array).fill(123);
  t.deepEqual(changedEntries(before, await modelBytes(detector)), [], 'writing into the copies left the model alone');
});

test.serial('inspect after a trainStep runs in eval mode: BN statistics stay put, outputs are the eval-mode ones, the next step is as without it', async (t) => {
  const [a, b] = await twins();
  const input = randomBatch(1, 64, 64, 4);
  const initial = await modelBytes(b);
  for (const d of [a, b]) assertFiniteStep(await d.trainStep(trainingBatch(2, 64, 1), 0.01));
  const afterStep = await modelBytes(b);
  t.true(changedEntries(initial, afterStep).includes('backbone.bn1.running_mean'), 'set-up: a step moves BN statistics (BN in train mode)');

  const inspection = await b.inspect(input);
  t.deepEqual(changedEntries(afterStep, await modelBytes(b)), [], 'inspect moved no BN statistic');
  const file = path.join(tmp, 'after-one-step.safetensors');
  await b.saveWeights(file);
  const fresh = await Detector.create(smallConfig());
  await fresh.loadWeights(file);
  t.is(digest(inspection), digest(await fresh.inspect(input)), 'the outputs of a model that never trained (eval mode) with the same weights');

  const [stepA, stepB] = [await a.trainStep(trainingBatch(2, 64, 2), 0.01), await b.trainStep(trainingBatch(2, 64, 2), 0.01)];
  t.is(digest(stepB), digest(stepA), 'the next step runs in train mode as it would have without the inspect');
  t.deepEqual(changedEntries(await modelBytes(a), await modelBytes(b)), []);
});

test.serial('Tensor.toArray returns a copy: writing into it does not change the tensor', async (t) => {
  const tensor = await Tensor.from(new Float32Array([1, 2, 3, 4]), [4], { device: 'cpu' });
  const first = await tensor.toArray();
  (first.data as Float32Array).fill(0);
  t.deepEqual(Array.from((await tensor.toArray()).data), [1, 2, 3, 4]);
});

// ---------------------------------------------------------------- 4. a skipped step changes nothing

/** A detector after one ordinary step, so momentum buffers exist and BN statistics moved once. */
async function trainedOnce(): Promise<Detector> {
  const detector = await Detector.create(smallConfig());
  assertFiniteStep(await detector.trainStep(trainingBatch(2, 64, 1), 0.01));
  return detector;
}

function assertFiniteStep(result: { finite: boolean }): void {
  if (!result.finite) throw new Error('the set-up step was not finite');
}

test.serial('a non-finite step (a NaN weight in the head, BN in train mode) leaves every parameter, buffer and momentum buffer bit-identical', async (t) => {
  const detector = await trainedOnce();
  const state = await detector.stateDict();
  const bias = state['head.atss_cls.bias']!.data as Float32Array;
  bias[0] = Number.NaN;
  const file = path.join(tmp, 'nan-head.safetensors');
  await writeSafetensors(file, state);
  await detector.loadWeights(file);
  const before = await modelBytes(detector);
  const result = await detector.trainStep(trainingBatch(2, 64, 2), 0.01);
  t.false(result.finite);
  t.deepEqual(changedEntries(before, await modelBytes(detector)), []);
});

// BN's variance overflows to Inf while its normalised output, and the loss,
// stay finite: the step must still count as non-finite.
test.serial('a step whose BN statistics overflow (inputs of 1e30) is skipped and leaves them untouched', async (t) => {
  const detector = await trainedOnce();
  const before = await modelBytes(detector);
  const batch = trainingBatch(2, 64, 2);
  batch.data.fill(1e30);
  const result = await detector.trainStep(batch, 0.01);
  t.false(result.finite);
  t.deepEqual(changedEntries(before, await modelBytes(detector)), []);
  t.true((await detector.trainStep(trainingBatch(2, 64, 3), 0.01)).finite, 'training goes on');
});

test.serial('a step that throws in the forward pass (BN sees one value per channel) leaves everything bit-identical', async (t) => {
  const detector = await trainedOnce();
  const before = await modelBytes(detector);
  await t.throwsAsync(detector.trainStep(trainingBatch(1, 32, 2), 0.01), { instanceOf: LaxrayError, message: /more than 1 value per channel/ });
  t.deepEqual(changedEntries(before, await modelBytes(detector)), []);
});

// ---------------------------------------------------------------- 5. optimiser settings and lr

test.serial('configureOptimizer refuses NaN, negative and infinite settings, naming the field', async (t) => {
  const detector = await Detector.create(smallConfig());
  const ok = { momentum: 0.9, weightDecay: 1e-4, gradClipNorm: null };
  const bad: [Partial<typeof ok> | Record<string, unknown>, RegExp][] = [
    [{ momentum: Number.NaN }, /momentum/],
    [{ momentum: -0.1 }, /momentum/],
    [{ momentum: 1 }, /momentum/],
    [{ weightDecay: -1 }, /weightDecay/],
    [{ weightDecay: Number.POSITIVE_INFINITY }, /weightDecay/],
    [{ gradClipNorm: -5 }, /gradClipNorm/],
    [{ gradClipNorm: 0 }, /gradClipNorm/],
    [{ gradClipNorm: Number.NaN }, /gradClipNorm/],
    [{ gradClipNorm: '35' }, /gradClipNorm/],
  ];
  for (const [change, field] of bad) {
    const options = { ...ok, ...change } as typeof ok;
    const error = t.throws(() => detector.configureOptimizer(options), { instanceOf: LaxrayError }, JSON.stringify(change));
    t.is(error?.code, 'INVALID_ARGUMENT');
    t.regex(error!.message, field);
    const nativeError = t.throws(() => detector.handle.configureOptimizer(options), undefined, `addon: ${JSON.stringify(change)}`);
    t.regex(nativeError!.message, field);
  }
  const before = await modelBytes(detector);
  detector.configureOptimizer({ momentum: 0, weightDecay: 0, gradClipNorm: 10 });
  const step = await detector.trainStep(trainingBatch(2, 64, 1), 0.01);
  t.true(step.finite);
  const after = await modelBytes(detector);
  t.true([...after.values()].every((bytes) => new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2).every(Number.isFinite)));
  t.true(changedEntries(before, after).length > 0);
});

test.serial('trainStep refuses a learning rate that is NaN, infinite or negative', async (t) => {
  const detector = await Detector.create(smallConfig());
  for (const lr of [Number.NaN, Number.POSITIVE_INFINITY, -0.01]) {
    const error = await t.throwsAsync(detector.trainStep(trainingBatch(1, 64, 1), lr), { instanceOf: LaxrayError });
    t.is(error?.code, 'INVALID_ARGUMENT');
    t.regex(error!.message, /\blr\b/);
  }
});

// ---------------------------------------------------------------- 6. bounded resources

test.serial('setThreads refuses more than 4 threads per core, naming the limit', async (t) => {
  const cores = os.availableParallelism();
  const before = (await runtimeInfo()).intraOpThreads;
  const error = t.throws(() => setThreads(100_000), { instanceOf: LaxrayError });
  t.is(error?.code, 'INVALID_ARGUMENT');
  t.regex(error!.message, new RegExp(`at most ${4 * cores}`));
  t.throws(() => native.setIntraOpThreads(4 * cores + 1), { message: /at most/ });
  t.throws(() => native.setIntraOpThreads(1e12), { message: /at most|integer/ });
  t.is((await runtimeInfo()).intraOpThreads, before, 'nothing changed');
  setThreads(4 * cores);
  t.is((await runtimeInfo()).intraOpThreads, 4 * cores);
  setThreads(before);
});

test.serial('data.imageScale beyond data.maxInputPixels (default 4096 × 4096) is refused; an explicit limit allows it', (t) => {
  t.is(resolveConfig({}).data.maxInputPixels, 4096 * 4096);
  const error = t.throws(() => resolveConfig({ data: { imageScale: [20000, 15000] } }), { instanceOf: LaxrayError });
  t.is(error?.code, 'INVALID_CONFIG');
  t.regex(error!.message, /data\.imageScale/);
  t.regex(error!.message, /maxInputPixels/);
  t.deepEqual(resolveConfig({ data: { imageScale: [20000, 15000], maxInputPixels: 20000 * 15000 } }).data.imageScale, [20000, 15000]);
});

test.serial('detect and inspect refuse an input batch above data.maxInputPixels before any tensor work', async (t) => {
  const detector = await Detector.create({ ...smallConfig(), data: { workers: 0, imageScale: [64, 64], maxInputPixels: 64 * 64 } });
  for (const call of [() => detector.detect(randomBatch(1, 64, 96)), () => detector.inspect(randomBatch(1, 96, 64))]) {
    const error = await t.throwsAsync(call(), { instanceOf: LaxrayError });
    t.is(error?.code, 'INVALID_ARGUMENT');
    t.regex(error!.message, /6144 pixels.*data\.maxInputPixels \(4096\)/);
  }
  const within = await detector.detect(randomBatch(1, 64, 64));
  t.true(within.length === 1 && within[0]!.length > 0, "a batch within the limit is detected");
});

test.serial('a weights file cannot choose device, threads, workers or the pixel limit of the process loading it', async (t) => {
  const detector = await Detector.create(smallConfig());
  const stored = { ...detector.config, device: 'cuda:3', threads: 100_000, data: { ...detector.config.data, workers: 512, maxInputPixels: 1e12, imageScale: [20000, 15000] } };
  const file = path.join(tmp, 'greedy.safetensors');
  await detector.saveWeights(file, { config: JSON.stringify(stored) });
  const threadsBefore = (await runtimeInfo()).intraOpThreads;

  const error = await t.throwsAsync(Detector.load(file), { instanceOf: LaxrayError });
  t.regex(error!.message, /greedy\.safetensors/);
  t.regex(error!.message, /data\.imageScale/);
  t.regex(error!.message, /maxInputPixels/);
  t.regex(error!.message, /--max-input-pixels/);

  const loaded = await Detector.load(file, { data: { maxInputPixels: 20000 * 15000 } });
  t.is(loaded.device, 'cpu');
  t.is(loaded.config.threads, 0);
  t.is(loaded.config.data.workers, os.availableParallelism());
  t.is(loaded.config.data.maxInputPixels, 20000 * 15000);
  t.deepEqual(loaded.config.data.imageScale, [20000, 15000], 'the model settings still come from the file');
  t.is((await runtimeInfo()).intraOpThreads, threadsBefore);
  t.is(digest(await loaded.inspect(randomBatch(1, 64, 64))), digest(await detector.inspect(randomBatch(1, 64, 64))));
});

test.serial('laxray detect --max-input-pixels sets the limit a weights file is checked against', async (t) => {
  const detector = await Detector.create(smallConfig());
  const file = path.join(tmp, 'cli.safetensors');
  await detector.saveWeights(file, { config: JSON.stringify({ ...detector.config, data: { ...detector.config.data, maxInputPixels: 1e12 } }) });
  const image = path.join(tmp, 'scan.png');
  await sharp({ create: { width: 32, height: 32, channels: 3, background: '#808080' } }).png().toFile(image);
  const run = await laxray(['detect', '--run', file, image, '--max-input-pixels', '1000'], { cwd: tmp, timeoutMs: 120_000 });
  t.not(run.code, 0);
  t.regex(run.stderr, /data\.imageScale \[1333, 800\].*above data\.maxInputPixels \(1000\)/);
  t.regex(run.stderr, /--max-input-pixels/);
});
