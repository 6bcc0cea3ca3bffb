// One run of the study: train a method with a seed into an ordinary run
// directory (<study>/runs/<method>-seed<k>/, usable with laxray eval / detect),
// then detect on the test split and keep the detections:
//
//   <run>/test/detections.json          COCO results of the model as trained
//   <run>/test/detections_la_off.json   LA models: the same with model.test.labelAware false
//   <run>/test/la_weights.json          LA models: per-level |w1 − w2| (|w − 0.5|) statistics
//   <run>/test/done.json                written last: the run is finished
//
// A run is picked up where it stopped: finished (done.json) → skipped; a
// checkpoint short of the last epoch → training resumes from it (exactly, see
// lib/train/trainer.ts); trained but not evaluated → evaluated.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { LaxrayError } from '../errors.js';
import { readJsonFile } from '../json_file.js';
import { Detector } from '../detector.js';
import { resolveConfig, deepMerge, type LaxrayConfig, type LaxrayConfigInput } from '../config/index.js';
import { writeFileAtomic } from '../atomic_file.js';
import { detectDataset, readLatestCheckpoint, RUN_FILES, Trainer, type TrainEvent } from '../train/index.js';
import type { Dataset } from '../data/index.js';
import type { JsonObject } from '../config/merge.js';
import { SYNTH_CATEGORIES } from '../data/synth/index.js';
import { laWeightStats, type LevelWeightStats } from './la_weights.js';
import { runName, type StudyMethod } from './methods.js';
import type { StudyProfile } from './profiles.js';

export interface RunPaths {
  name: string;
  dir: string;
  testDir: string;
  detections: string;
  detectionsLaOff: string;
  laWeights: string;
  done: string;
}

export function runPaths(studyDir: string, method: string, seed: number): RunPaths {
  const name = runName(method, seed);
  const dir = path.join(studyDir, 'runs', name);
  const testDir = path.join(dir, 'test');
  return {
    name,
    dir,
    testDir,
    detections: path.join(testDir, 'detections.json'),
    detectionsLaOff: path.join(testDir, 'detections_la_off.json'),
    laWeights: path.join(testDir, 'la_weights.json'),
    done: path.join(testDir, 'done.json'),
  };
}

/** What done.json records about a finished run. */
export interface RunRecord {
  format: 'laxray-study-run';
  version: 1;
  method: string;
  seed: number;
  name: string;
  iterations: number;
  epochs: number;
  /** Training (with its validation) and test-set evaluation, in seconds. */
  trainSeconds: number;
  evalSeconds: number;
  device: string;
  testImages: number;
  /** Files relative to the run directory. */
  files: { detections: string; detectionsLaOff: string | null; laWeights: string | null };
}

export interface RunSettings {
  profile: StudyProfile;
  method: StudyMethod;
  seed: number;
  /** The benchmark's COCO files. */
  data: { train: string; val: string };
  device?: string;
  /** A torchvision ResNet state dict (.safetensors) to start the backbone from. */
  pretrained?: string | null;
}

/** The complete config of one run: preset ← profile ← method ← data, seed, device. */
export function runConfig(settings: RunSettings): LaxrayConfig {
  const { profile, method, seed, data } = settings;
  const split = (file: string) => ({ annotations: file, images: path.dirname(file) });
  const shared = deepMerge(profile.config as JsonObject, method.overrides as JsonObject);
  const specific: LaxrayConfigInput = {
    preset: method.preset,
    classes: [...SYNTH_CATEGORIES],
    data: { train: split(data.train), val: split(data.val) },
    train: { seed },
    ...(settings.device !== undefined ? { device: settings.device as 'cpu' } : {}),
    ...(settings.pretrained ? { model: { backbone: { pretrained: settings.pretrained } } } : {}),
  };
  return resolveConfig(deepMerge(shared, specific as JsonObject) as LaxrayConfigInput);
}

export type RunState = 'done' | 'evaluate' | 'resume' | 'fresh';

/** Where a run stands on disk. */
export async function runState(paths: RunPaths, config: LaxrayConfig): Promise<RunState> {
  if (existsSync(paths.done)) return 'done';
  if (!existsSync(path.join(paths.dir, RUN_FILES.latest))) return 'fresh';
  const { state } = await readLatestCheckpoint(paths.dir);
  return state.epoch >= config.train.epochs ? 'evaluate' : 'resume';
}

/** Reads a finished run's done.json. */
export async function readRunRecord(paths: RunPaths): Promise<RunRecord> {
  const record = (await readJsonFile(paths.done, { what: 'study run record', code: 'IO_ERROR', hint: 'delete it to evaluate the run again' })) as RunRecord | null;
  if (record?.format !== 'laxray-study-run') throw new LaxrayError('IO_ERROR', `${paths.done} is not a laxray study run record; delete it to evaluate the run again`);
  return record;
}

export interface TrainRunOptions {
  train: Dataset;
  val: Dataset;
  signal?: AbortSignal;
}

/** Trains (or resumes) the run to its last epoch, yielding the trainer's events; returns whether it completed (false: stopped by the signal). */
export async function* trainRun(paths: RunPaths, config: LaxrayConfig, state: 'fresh' | 'resume', options: TrainRunOptions): AsyncGenerator<TrainEvent, boolean, undefined> {
  if (state === 'fresh') await fs.rm(paths.dir, { recursive: true, force: true }); // leftovers of a run that never reached its first checkpoint
  const detector = await Detector.create(config);
  const trainer = new Trainer({
    detector,
    train: options.train,
    val: options.val,
    runDir: paths.dir,
    resume: state === 'resume',
    reportSamples: 0,
    ...(options.signal !== undefined ? { signal: options.signal } : {}),
  });
  const summary = yield* trainer.train();
  return summary.completed;
}

/** Detects on the test split (LA on, and off for LA models), gathers LA weight statistics, writes done.json. */
export async function evaluateRun(paths: RunPaths, method: StudyMethod, seed: number, test: Dataset, options: { device?: string } = {}): Promise<RunRecord> {
  const started = performance.now();
  const device = options.device !== undefined ? { device: options.device as 'cpu' } : {};
  const { state } = await readLatestCheckpoint(paths.dir);
  const detector = await Detector.load(paths.dir, device);
  const batchSize = detector.config.train.batchSize;
  await fs.mkdir(paths.testDir, { recursive: true });
  const on = await detectDataset(detector, test, { batchSize });
  await writeFileAtomic(paths.detections, JSON.stringify(on.results) + '\n');
  let laWeights: LevelWeightStats[] | null = null;
  if (method.la !== null) {
    const off = await Detector.load(paths.dir, { ...device, model: { test: { labelAware: false } } });
    const offResults = await detectDataset(off, test, { batchSize });
    await writeFileAtomic(paths.detectionsLaOff, JSON.stringify(offResults.results) + '\n');
    laWeights = await laWeightStats(detector, test, { batchSize });
    if (laWeights === null) throw new LaxrayError('NATIVE_ERROR', `${paths.name}: the model has LA (${method.la}) but inspect() returned no LA weights`);
    await writeFileAtomic(paths.laWeights, JSON.stringify(laWeights, null, 2) + '\n');
  }
  const record: RunRecord = {
    format: 'laxray-study-run',
    version: 1,
    method: method.name,
    seed,
    name: paths.name,
    iterations: state.iteration,
    epochs: state.epoch,
    trainSeconds: state.elapsedSeconds,
    evalSeconds: (performance.now() - started) / 1000,
    device: detector.device,
    testImages: on.images,
    files: {
      detections: path.relative(paths.dir, paths.detections),
      detectionsLaOff: method.la !== null ? path.relative(paths.dir, paths.detectionsLaOff) : null,
      laWeights: method.la !== null ? path.relative(paths.dir, paths.laWeights) : null,
    },
  };
  await writeFileAtomic(paths.done, JSON.stringify(record, null, 2) + '\n');
  return record;
}
