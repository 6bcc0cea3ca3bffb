// The run directory: what a training run writes and how a later process finds
// it again (Detector.load, --resume, laxray detect).
//
//   <run>/config.json                          the resolved config of the run
//   <run>/checkpoints/iter_<N>.safetensors     weights after N iterations
//   <run>/checkpoints/iter_<N>.optimizer.safetensors   SGD momentum buffers
//   <run>/checkpoints/iter_<N>.json            training state (TrainingState)
//   <run>/checkpoints/latest.json              {weights, optimizer, state, iteration}: written
//                                              last, so it always names a complete checkpoint
//   <run>/metrics.jsonl                        one JSON event per line (iterations, validations, ...)
//   <run>/report/                              loss.png, map.png, summary.txt, detections/
//
// Every file is written atomically (temp file + fsync + rename).
import { existsSync, promises as fs, statSync } from 'node:fs';
import path from 'node:path';
import { LaxrayError } from '../errors.js';
import { removeStaleTempFiles, writeFileAtomic } from '../atomic_file.js';
import { readJsonFile, type JsonFileKind } from '../json_file.js';
import { readSafetensors, writeSafetensors, type TensorMap } from './safetensors.js';
import { resolveConfig, type LaxrayConfig, type LaxrayConfigInput, type OptimizerOptions } from '../config/index.js';

export const RUN_FILES = {
  config: 'config.json',
  checkpoints: 'checkpoints',
  latest: path.join('checkpoints', 'latest.json'),
  metrics: 'metrics.jsonl',
  report: 'report',
} as const;

/** `checkpoints/latest.json`: file names relative to the checkpoints folder. */
export interface LatestCheckpoint {
  weights: string;
  optimizer: string;
  state: string;
  iteration: number;
}

/** One logged training step (NaN where a loss was not finite). */
export interface LossRecord {
  iteration: number;
  epoch: number;
  lr: number;
  losses: Record<string, number>;
}

/** One validation run: the 12 COCO stats (and mAP50) on the validation set, and on its challenging subset. */
export interface ValidationRecord {
  /** Epochs finished when it ran (1 after the first epoch). */
  epoch: number;
  iteration: number;
  stats: Record<string, number>;
  mAP50: number | null;
  challenging: { stats: Record<string, number>; mAP50: number | null; images: number } | null;
}

/** Everything besides tensors that a resumed run needs to continue exactly. */
export interface TrainingState {
  format: 'laxray-training-state';
  version: 1;
  config: LaxrayConfig;
  /** Epoch the next batch belongs to (from 0); equals config.train.epochs when training is over. */
  epoch: number;
  /** Index of the next batch within `epoch`. */
  batch: number;
  /**
   * Images of `epoch`'s permutation the job has consumed (all processes
   * together): where a resumed run continues, whatever its world size.
   * Absent in states of older runs (then batch × train.batchSize).
   */
  epochImages?: number;
  /** Processes of the job that wrote this state (absent: 1). */
  worldSize?: number;
  /** Iterations done (each consumed one batch, finite or not). */
  iteration: number;
  seed: number;
  lossHistory: LossRecord[];
  validationHistory: ValidationRecord[];
  nonFinite: { total: number; inARow: number };
  /** Training time so far (seconds), for the report. */
  elapsedSeconds: number;
  savedAt: string;
}

export interface CheckpointFiles {
  weights: string;
  optimizer: string;
  state: string;
  latest: string;
  iteration: number;
}

/** What a checkpoint needs from a detector. */
export interface CheckpointableModel {
  readonly config: LaxrayConfig;
  saveWeights(file: string, metadata?: Record<string, string>): Promise<void>;
  loadWeights(file: string): Promise<void>;
  optimizerState(): Promise<TensorMap>;
  loadOptimizerState(state: TensorMap): Promise<void>;
  configureOptimizer(options: OptimizerOptions): void;
}

export function checkpointStem(iteration: number): string {
  return `iter_${iteration}`;
}

/** The files of the checkpoint after `iteration` iterations. */
export function checkpointFiles(runDir: string, iteration: number): CheckpointFiles {
  const dir = path.join(runDir, RUN_FILES.checkpoints);
  const stem = checkpointStem(iteration);
  return {
    weights: path.join(dir, `${stem}.safetensors`),
    optimizer: path.join(dir, `${stem}.optimizer.safetensors`),
    state: path.join(dir, `${stem}.json`),
    latest: path.join(runDir, RUN_FILES.latest),
    iteration,
  };
}

/** Writes the run's config.json (atomically). */
export async function writeRunConfig(runDir: string, config: LaxrayConfig): Promise<string> {
  const file = path.join(runDir, RUN_FILES.config);
  await writeFileAtomic(file, JSON.stringify(config, null, 2) + '\n');
  return file;
}

/**
 * Writes weights, optimizer buffers and state of iteration N, then points
 * latest.json at them. A crash at any point leaves latest.json naming the
 * previous complete checkpoint.
 */
export async function writeCheckpoint(runDir: string, model: CheckpointableModel, state: TrainingState): Promise<CheckpointFiles> {
  const dir = path.join(runDir, RUN_FILES.checkpoints);
  await fs.mkdir(dir, { recursive: true });
  const files = checkpointFiles(runDir, state.iteration);
  const names = { weights: path.basename(files.weights), optimizer: path.basename(files.optimizer), state: path.basename(files.state) };
  await model.saveWeights(files.weights, { iteration: String(state.iteration), epoch: String(state.epoch) });
  await writeSafetensors(files.optimizer, await model.optimizerState(), { format: 'laxray-sgd', iteration: String(state.iteration) });
  await writeFileAtomic(files.state, JSON.stringify(state) + '\n');
  const latest: LatestCheckpoint = { ...names, iteration: state.iteration };
  await writeFileAtomic(files.latest, JSON.stringify(latest, null, 2) + '\n');
  return files;
}

/**
 * Deletes the temp files that killed writes left in the run directory
 * (`.iter_N.safetensors.<pid>.<random>.tmp`, up to a checkpoint's size each);
 * a live writer's are kept. Returns the paths removed.
 */
export async function removeStaleRunTempFiles(runDir: string): Promise<string[]> {
  return removeStaleTempFiles(runDir, 2);
}

/** Deletes checkpoints other than the newest `keep` (and `protect`); latest.json's target is never deleted. */
export async function pruneCheckpoints(runDir: string, keep: number, protect: readonly number[] = []): Promise<void> {
  const dir = path.join(runDir, RUN_FILES.checkpoints);
  let entries: string[];
  try {
    entries = await fs.readdir(dir);
  } catch {
    return;
  }
  const iterations = [...new Set(entries.map((f) => /^iter_(\d+)\.json$/.exec(f)).filter((m) => m !== null).map((m) => Number(m[1])))].sort((a, b) => b - a);
  const latest = await readLatestPointer(runDir).catch(() => undefined);
  const keepSet = new Set([...iterations.slice(0, Math.max(1, keep)), ...protect, ...(latest ? [latest.iteration] : [])]);
  for (const it of iterations) {
    if (keepSet.has(it)) continue;
    const stem = checkpointStem(it);
    // state first: a checkpoint without its state file is never picked up
    for (const f of [`${stem}.json`, `${stem}.safetensors`, `${stem}.optimizer.safetensors`]) await fs.rm(path.join(dir, f), { force: true });
  }
}

/** A JSON file of the checkpoints folder (pointer, training state); malformed: CHECKPOINT_ERROR. */
function checkpointJson(what: string): JsonFileKind {
  return { what, code: 'CHECKPOINT_ERROR', hint: 'it was not written by laxray or is damaged' };
}

export async function readLatestPointer(runDir: string): Promise<LatestCheckpoint> {
  const file = path.join(runDir, RUN_FILES.latest);
  if (!existsSync(file)) {
    throw new LaxrayError(
      'CHECKPOINT_ERROR',
      `no checkpoint in ${runDir}: ${file} does not exist (a run writes one every train.checkpointEvery iterations and at each epoch end)`,
    );
  }
  // `?? {}`: a file holding `null` is reported by its missing fields, below
  const json = ((await readJsonFile(file, checkpointJson('checkpoint pointer'))) ?? {}) as Partial<LatestCheckpoint>;
  for (const key of ['weights', 'optimizer', 'state'] as const) {
    if (typeof json[key] !== 'string' || json[key] === '' || json[key]!.includes('/') || json[key]!.includes('\\')) {
      throw new LaxrayError('CHECKPOINT_ERROR', `${file}: "${key}" must be a file name in the checkpoints folder, got ${JSON.stringify(json[key])}`);
    }
  }
  if (!Number.isInteger(json.iteration) || json.iteration! < 0) throw new LaxrayError('CHECKPOINT_ERROR', `${file}: "iteration" must be an integer ≥ 0, got ${JSON.stringify(json.iteration)}`);
  return json as LatestCheckpoint;
}

export interface LoadedCheckpoint {
  pointer: LatestCheckpoint;
  state: TrainingState;
  files: { weights: string; optimizer: string; state: string };
}

/** The checkpoint latest.json names, with its state read and checked. */
export async function readLatestCheckpoint(runDir: string): Promise<LoadedCheckpoint> {
  const pointer = await readLatestPointer(runDir);
  const dir = path.join(runDir, RUN_FILES.checkpoints);
  const files = { weights: path.join(dir, pointer.weights), optimizer: path.join(dir, pointer.optimizer), state: path.join(dir, pointer.state) };
  for (const [key, file] of Object.entries(files)) {
    if (!existsSync(file)) throw new LaxrayError('CHECKPOINT_ERROR', `${path.join(runDir, RUN_FILES.latest)} names ${key} file ${file}, which does not exist; the run directory is damaged`);
  }
  const state = (await readJsonFile(files.state, checkpointJson('training state'))) as TrainingState;
  if (state?.format !== 'laxray-training-state' || state.version !== 1) {
    throw new LaxrayError('CHECKPOINT_ERROR', `${files.state} is not a laxray training state (format ${JSON.stringify(state?.format)}, version ${JSON.stringify(state?.version)})`);
  }
  for (const key of ['epoch', 'batch', 'iteration'] as const) {
    if (!Number.isInteger(state[key]) || state[key] < 0) throw new LaxrayError('CHECKPOINT_ERROR', `${files.state}: "${key}" must be an integer ≥ 0, got ${JSON.stringify(state[key])}`);
  }
  if (state.iteration !== pointer.iteration) {
    throw new LaxrayError('CHECKPOINT_ERROR', `${files.state} is at iteration ${state.iteration} but latest.json says ${pointer.iteration}; the run directory is damaged`);
  }
  // JSON turned NaN losses into null
  for (const r of state.lossHistory) for (const k of Object.keys(r.losses)) if (r.losses[k] === null) r.losses[k] = Number.NaN;
  return { pointer, state, files };
}

/** Restores weights and optimizer buffers of a checkpoint into `model`. */
export async function restoreCheckpoint(model: CheckpointableModel, checkpoint: LoadedCheckpoint): Promise<void> {
  await model.loadWeights(checkpoint.files.weights);
  const { tensors } = await readSafetensors(checkpoint.files.optimizer);
  await model.loadOptimizerState(tensors);
}

/** The config a run was trained with (<run>/config.json), with `overrides` (e.g. a device) on top. */
export function readRunConfig(runDir: string, overrides: LaxrayConfigInput = {}): LaxrayConfig {
  const file = path.join(runDir, RUN_FILES.config);
  if (!existsSync(file)) throw new LaxrayError('CHECKPOINT_ERROR', `${runDir} is not a laxray run directory: ${file} does not exist`);
  return resolveConfig(file, overrides);
}

export interface ResolvedModelSource {
  config: LaxrayConfig;
  weights: string;
  /** The run directory, when the source was one. */
  runDir: string | null;
}

/**
 * Where `source` (a run directory or a .safetensors weights file) keeps its
 * config and weights. A weights file carries its config in the safetensors
 * metadata (Detector.saveWeights writes it); a run directory's latest
 * checkpoint is used.
 */
export async function resolveModelSource(source: string, overrides: LaxrayConfigInput = {}): Promise<ResolvedModelSource> {
  if (!existsSync(source)) throw new LaxrayError('INVALID_ARGUMENT', `${source} does not exist: give a run directory (from laxray train) or a .safetensors weights file`);
  if (statSync(source).isDirectory()) {
    const config = readRunConfig(source, overrides);
    const pointer = await readLatestPointer(source);
    return { config, weights: path.join(source, RUN_FILES.checkpoints, pointer.weights), runDir: source };
  }
  const { metadata } = await readSafetensors(source);
  if (typeof metadata.config !== 'string') {
    throw new LaxrayError('CHECKPOINT_ERROR', `${source} holds no laxray config in its metadata: give the run directory it came from instead (it has config.json)`);
  }
  let config: unknown;
  try {
    config = JSON.parse(metadata.config);
  } catch (err) {
    throw new LaxrayError('CHECKPOINT_ERROR', `${source}: the config in its metadata is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return { config: resolveConfig(config as LaxrayConfigInput, overrides), weights: source, runDir: null };
}
