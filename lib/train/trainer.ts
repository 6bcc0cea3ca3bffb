// The training loop: epochs of DataLoader batches → detector.trainStep(batch, lr)
// with mmdetection's schedule (linear warm-up, steps, lr scaled by batch size),
// periodic validation (COCO mAP, overall and on the challenging subset),
// atomic checkpoints every train.checkpointEvery iterations and at each epoch
// end, exact resume, and NaN/Inf handling. Progress is data: train() yields
// TrainEvents and the Trainer emits each one (by type and as 'event').
//
// Exact resume: everything random is a pure function of (seed, epoch) in the
// DataLoader, the native step has no randomness of its own, and a checkpoint
// holds the weights (parameters and BN buffers), the SGD momentum buffers and
// the position (epoch, next batch, iteration). A run stopped after k iterations
// and resumed therefore sees the same batches with the same weights, learning
// rates and momentum as an uninterrupted one.
//
// Data-parallel (options.distributed, or the torchrun environment): each
// process trains on its shard of every global batch (lib/data/shard.ts), the
// native step averages loss normalisers and gradients over the processes, the
// learning rate follows the global batch (batchSize × worldSize), and rank 0
// alone writes the run directory (config, checkpoints, metrics, report) and
// prints; the others get rank 0's weights, momentum and position at the start.
// The decisions that must agree (stop, validation records) go through the
// process group. A checkpoint records the images of the epoch consumed, so a
// run resumes with any world size at the same iteration and epoch.
import { EventEmitter } from 'node:events';
import { createWriteStream, existsSync, promises as fs, type WriteStream } from 'node:fs';
import path from 'node:path';
import { LaxrayError } from '../errors.js';
import { learningRateAt, type LaxrayConfig } from '../config/index.js';
import { DataLoader, pipelineOptions, verifyDatasetImages, type Dataset, type TrainingBatch } from '../data/index.js';
import { readChallengingThresholds } from '../data/synth/manifest.js';
import { writeFileAtomic } from '../atomic_file.js';
import type { StepResult } from '../detector.js';
import { checkClasses, evaluateDetector, type DetectingModel, type Evaluation } from './evaluate_detector.js';
import type { TrainEvent, ValidationEvent } from './events.js';
import { ProcessGroup, asDistributedError } from './distributed/group.js';
import { resolveDistributed, workerDevice, type DistributedOptions } from './distributed/settings.js';
import { evaluateSharded } from './distributed/validation.js';
import { writeRunReport, type RunReportFiles } from './report.js';
import {
  pruneCheckpoints,
  readLatestCheckpoint,
  removeStaleRunTempFiles,
  restoreCheckpoint,
  RUN_FILES,
  checkpointFiles,
  writeCheckpoint,
  writeRunConfig,
  type CheckpointableModel,
  type CheckpointFiles,
  type TrainingState,
  type ValidationRecord,
} from '../checkpoint/run_dir.js';

/** What the trainer needs of a detector (lib/detector.ts's Detector has it all). */
export interface TrainableDetector extends CheckpointableModel, DetectingModel {
  trainStep(batch: TrainingBatch, lr: number): Promise<StepResult>;
  /** Data-parallel training only (lib/detector.ts's Detector has them). */
  readonly device?: string;
  attachProcessGroup?(group: ProcessGroup | null): void;
  broadcastTrainingState?(): Promise<void>;
}

export interface TrainerOptions {
  detector: TrainableDetector;
  /** Training images (COCO Dataset from lib/data). */
  train: Dataset;
  /** Validation images; null: no validation. */
  val?: Dataset | null;
  /** Where config, checkpoints, metrics and the report go (created when missing). */
  runDir: string;
  /** The run config. Default: the detector's; when given, its model section must be the detector's. */
  config?: LaxrayConfig;
  /** Continue from runDir's latest checkpoint (weights, optimizer, position, history). */
  resume?: boolean;
  /** Stop once this many iterations are done in total (with a checkpoint); resume continues. */
  maxIterations?: number;
  /** Aborting stops after the current step, with a checkpoint. */
  signal?: AbortSignal;
  /** Checkpoints kept on disk (newest first; default 3). */
  keepCheckpoints?: number;
  /** Annotated validation images written to report/detections (default 8; 0 for none). */
  reportSamples?: number;
  /** Score from which detections are drawn on those images (default 0.3). */
  drawThreshold?: number;
  /** Decode worker threads of the loaders. Default config.data.workers. */
  workers?: number;
  /** Validation images per forward pass. Default config.train.batchSize. */
  evalBatchSize?: number;
  /**
   * Data-parallel training: this process's place in the job (missing fields
   * come from the torchrun environment: RANK, WORLD_SIZE, LOCAL_RANK,
   * MASTER_ADDR, MASTER_PORT), or a ProcessGroup already joined (the caller
   * then closes it). Default: the environment (a single process without
   * WORLD_SIZE); null: a single process whatever the environment.
   */
  distributed?: DistributedOptions | ProcessGroup | null;
}

export interface TrainSummary {
  iteration: number;
  epoch: number;
  completed: boolean;
  seconds: number;
  lastCheckpoint: string | null;
  validation: ValidationRecord | null;
  /** The final evaluation on the validation set (null without one or when stopped early). */
  evaluation: Evaluation | null;
  report: RunReportFiles;
}

const STEP_WINDOW = 20;

/** What one call of train() carries from step to step. */
interface RunContext {
  state: TrainingState;
  loader: DataLoader;
  group: ProcessGroup | null;
  rank: number;
  /** The config with the job's global batch, for the learning rate. */
  schedule: LaxrayConfig;
  batchesPerEpoch: number;
  totalIterations: number;
  /** Seconds of training so far, earlier runs of a resumed run included. */
  elapsed: () => number;
  clock: StepClock;
  stopped: boolean;
  lastValidation: { record: ValidationRecord; evaluation: Evaluation | null } | null;
  stopRequested: () => Promise<boolean>;
}

/** Step times and images over the last few steps: images/s and the time left. */
class StepClock {
  private readonly seconds: number[] = [];
  private readonly images: number[] = [];
  private tick = performance.now();

  constructor(private readonly window: number) {}

  restart(): void {
    this.tick = performance.now();
  }

  /** Seconds since the last lap or restart: before a step, the time spent waiting for its batch. */
  sinceTick(): number {
    return (performance.now() - this.tick) / 1000;
  }

  lap(images: number): void {
    const now = performance.now();
    this.seconds.push((now - this.tick) / 1000);
    this.images.push(images);
    this.tick = now;
    if (this.seconds.length > this.window) {
      this.seconds.shift();
      this.images.shift();
    }
  }

  imagesPerSecond(): number {
    const total = sum(this.seconds);
    return total > 0 ? sum(this.images) / total : 0;
  }

  secondsFor(steps: number): number {
    return this.seconds.length > 0 ? (steps * sum(this.seconds)) / this.seconds.length : 0;
  }
}

/** Per-loss sums over an epoch's finite steps, for the epoch means. */
class LossSums {
  private readonly sums: Record<string, number> = {};
  private steps = 0;

  add(losses: Record<string, number>): void {
    this.steps++;
    for (const [k, v] of Object.entries(losses)) this.sums[k] = (this.sums[k] ?? 0) + v;
  }

  means(): Record<string, number> {
    return Object.fromEntries(Object.entries(this.sums).map(([k, v]) => [k, v / Math.max(1, this.steps)]));
  }
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

/** What rank 0 tells the other ranks about the run at its start. */
type SharedState = TrainingState & { lastCheckpoint: CheckpointFiles | null };

export class Trainer extends EventEmitter {
  readonly config: LaxrayConfig;
  readonly detector: TrainableDetector;
  readonly runDir: string;
  readonly trainSet: Dataset;
  readonly valSet: Dataset | null;
  private readonly options: TrainerOptions;
  private running = false;
  private metrics: WriteStream | undefined;
  private lastCheckpoint: CheckpointFiles | null = null;
  private readonly pendingWarnings: string[] = [];
  /** The job's process group while a data-parallel run is going on. */
  private group: ProcessGroup | null = null;

  constructor(options: TrainerOptions) {
    super();
    this.options = options;
    this.detector = options.detector;
    this.config = options.config ?? options.detector.config;
    if (options.config !== undefined && JSON.stringify(options.config.model) !== JSON.stringify(options.detector.config.model)) {
      throw new LaxrayError('INVALID_ARGUMENT', 'Trainer: config.model differs from the detector\'s model config; create the detector from the same config (Detector.create(config))');
    }
    this.runDir = path.resolve(options.runDir);
    this.trainSet = options.train;
    this.valSet = options.val ?? null;
    checkClasses(this.config, this.trainSet, 'the training set');
    if (this.valSet) {
      checkClasses(this.config, this.valSet, 'the validation set');
      // a damaged challenging.json fails here, not at the first validation after an epoch of training
      readChallengingThresholds(this.valSet.imageRoot);
    }
    if (options.maxIterations !== undefined && !(Number.isInteger(options.maxIterations) && options.maxIterations >= 0)) {
      throw new LaxrayError('INVALID_ARGUMENT', `maxIterations must be an integer ≥ 0, got ${options.maxIterations}`);
    }
  }

  /** Trains to the end (or maxIterations / abort), emitting every event; resolves with the summary. */
  async run(): Promise<TrainSummary> {
    const it = this.train();
    for (;;) {
      const next = await it.next();
      if (next.done) return next.value;
    }
  }

  /**
   * The training run as an async iterator of events. The run advances as the
   * iterator is consumed; each event is also emitted (`trainer.on('iteration', ...)`,
   * or `trainer.on('event', ...)` for all). Throws LaxrayError TRAINING_DIVERGED
   * after train.maxNonFiniteInARow non-finite steps in a row.
   */
  async *train(): AsyncGenerator<TrainEvent, TrainSummary, undefined> {
    if (this.running) throw new LaxrayError('INVALID_ARGUMENT', 'this Trainer is already running');
    this.running = true;
    let loader: DataLoader | undefined;
    let ownedGroup: ProcessGroup | null = null;
    let succeeded = false;
    try {
      const started = performance.now();
      const t = this.config.train;
      this.detector.configureOptimizer({ momentum: t.momentum, weightDecay: t.weightDecay, gradClipNorm: t.gradClipNorm });
      if (this.config.data.verifyImages) await this.verifyImages(); // every rank: the same files, before any rendezvous wait
      const joined = await this.joinGroup();
      ownedGroup = joined.owned ? joined.group : null;
      this.group = joined.group;
      const state = await this.startingState();
      if (this.group !== null) await this.detector.broadcastTrainingState!();
      loader = this.createLoader();
      if (loader.length === 0) {
        throw new LaxrayError('INVALID_DATASET', `the training set ${this.trainSet.source ?? ''} has no image with annotations to train on`);
      }
      const run = this.runContext(state, loader, started);
      yield* this.begin(run);
      while (state.epoch < t.epochs && !run.stopped) yield* this.trainEpoch(run);
      const summary = yield* this.finish(run);
      succeeded = true;
      return summary;
    } catch (err) {
      // Let the other ranks' errors name this one and say why.
      if (this.group !== null) await this.group.reportFailure(err instanceof Error ? err.message : String(err));
      throw this.group !== null ? asDistributedError(err) : err;
    } finally {
      await loader?.close();
      await this.closeMetrics();
      this.detector.attachProcessGroup?.(null);
      this.group = null;
      // A failed group is left to the process's end: c10d may wait out its timeout while draining it.
      if (succeeded) await ownedGroup?.close();
      this.running = false;
    }
  }

  /** The training batches of this process (its shard of each global batch). */
  private createLoader(): DataLoader {
    const { config } = this;
    const loader = new DataLoader(this.trainSet, {
      batchSize: config.train.batchSize,
      train: true,
      seed: config.train.seed,
      flipProbability: config.data.flipProbability,
      ...pipelineOptions(config.data),
      workers: this.options.workers ?? config.data.workers,
      prefetch: config.data.prefetch,
      shard: { rank: this.group?.rank ?? 0, worldSize: this.group?.worldSize ?? 1 },
    });
    return loader;
  }

  private runContext(state: TrainingState, loader: DataLoader, started: number): RunContext {
    const group = this.group;
    const elapsedBefore = state.elapsedSeconds;
    return {
      state,
      loader,
      group,
      rank: group?.rank ?? 0,
      // The learning rate follows the job's batch: batchSize per process × processes.
      schedule: { ...this.config, train: { ...this.config.train, batchSize: loader.globalBatchSize } },
      batchesPerEpoch: loader.length,
      totalIterations: this.config.train.epochs * loader.length,
      elapsed: () => elapsedBefore + (performance.now() - started) / 1000,
      clock: new StepClock(STEP_WINDOW),
      stopped: false,
      lastValidation: null,
      // Every process must stop after the same step: a signal seen by one stops all.
      stopRequested: async () => {
        const local = (this.options.maxIterations !== undefined && state.iteration >= this.options.maxIterations) || this.options.signal?.aborted === true;
        return group === null ? local : group.anyRank(local);
      },
    };
  }

  /** The start event, warnings, and checkpoint 0 of a new run. */
  private async *begin(run: RunContext): AsyncGenerator<TrainEvent, void, undefined> {
    const { state, loader, schedule } = run;
    const worldSize = this.group?.worldSize ?? 1;
    if (state.worldSize !== undefined && state.worldSize !== worldSize && state.iteration > 0) {
      this.emitWarning(
        `resuming a run of ${state.worldSize} process(es) with ${worldSize}: the global batch is now ${loader.globalBatchSize} images ` +
          `(learning rate ${learningRateAt(schedule, state.iteration, state.epoch).toExponential(3)}); the epoch continues after its first ${state.epochImages ?? state.batch * this.config.train.batchSize} images`,
      );
    }
    state.worldSize = worldSize;
    yield this.publish({
      type: 'start',
      runDir: this.runDir,
      iteration: state.iteration,
      epoch: state.epoch,
      batch: state.batch,
      epochs: this.config.train.epochs,
      batchesPerEpoch: run.batchesPerEpoch,
      totalIterations: run.totalIterations,
      trainImages: loader.images.length,
      valImages: this.valSet?.images.length ?? 0,
      device: this.config.device,
      resumedFrom: this.options.resume ? this.lastCheckpoint?.state ?? null : null,
    });
    for (const message of this.pendingWarnings.splice(0)) yield this.publish({ type: 'warning', message });
    if (state.iteration === 0 && this.lastCheckpoint === null) {
      // checkpoint 0: the initial weights, so a good checkpoint always exists
      yield this.publish(await this.checkpoint(state, 'interval', run.elapsed()));
    }
  }

  /** One epoch (or what is left of it): its steps, then the epoch event, validation and checkpoint. */
  private async *trainEpoch(run: RunContext): AsyncGenerator<TrainEvent, void, undefined> {
    const { state, loader } = run;
    const t = this.config.train;
    const epoch = state.epoch;
    const epochStarted = performance.now();
    const sums = new LossSums();
    if (await run.stopRequested()) {
      run.stopped = true;
      return;
    }
    const startImage = state.epochImages ?? state.batch * t.batchSize;
    const epochEnd = loader.plan(epoch, startImage).at(-1)?.end ?? startImage;
    run.clock.restart();
    for await (const batch of loader.iterate({ epoch, startImage })) {
      const dataWaitSeconds = run.clock.sinceTick(); // the loader had not finished this batch when the last step ended
      const lr = learningRateAt(run.schedule, state.iteration, epoch);
      const result = await this.step(batch, lr);
      loader.recycle(batch);
      state.iteration++;
      state.batch = batch.index + 1;
      state.epochImages = batch.end ?? state.batch * loader.globalBatchSize;
      yield* this.record(run, batch, lr, result, sums, dataWaitSeconds);

      const lastOfEpoch = state.epochImages >= epochEnd;
      if (!lastOfEpoch && (await run.stopRequested())) {
        run.stopped = true;
        if (this.lastCheckpoint?.iteration !== state.iteration) yield this.publish(await this.checkpoint(state, 'stop', run.elapsed()));
        return;
      }
      if (!lastOfEpoch && state.iteration % t.checkpointEvery === 0 && state.nonFinite.inARow === 0) {
        yield this.publish(await this.checkpoint(state, 'interval', run.elapsed()));
      }
      run.clock.restart(); // checkpoint time does not count as step time
    }

    state.epoch = epoch + 1;
    state.batch = 0;
    state.epochImages = 0;
    yield this.publish({ type: 'epoch', epoch: epoch + 1, iteration: state.iteration, meanLosses: sums.means(), seconds: (performance.now() - epochStarted) / 1000 });
    if (this.valSet !== null && ((epoch + 1) % t.validateEvery === 0 || epoch + 1 === t.epochs)) run.lastValidation = yield* this.validate(state);
    if (state.nonFinite.inARow === 0) yield this.publish(await this.checkpoint(state, 'epoch', run.elapsed()));
    if (state.epoch < t.epochs && (await run.stopRequested())) run.stopped = true;
  }

  /** A finished step: the loss history, the non-finite count (and the divergence stop), the iteration event. */
  private async *record(run: RunContext, batch: TrainingBatch, lr: number, result: StepResult, sums: LossSums, dataWaitSeconds: number): AsyncGenerator<TrainEvent, void, undefined> {
    const { state } = run;
    const epoch = state.epoch;
    const images = result.images ?? batch.metas.length;
    run.clock.lap(images);
    const losses: Record<string, number> = { ...result.losses, total: result.total };
    if (!result.finite) for (const k of Object.keys(losses)) if (!Number.isFinite(losses[k]!)) losses[k] = Number.NaN;
    if (run.rank === 0) state.lossHistory.push({ iteration: state.iteration, epoch, lr, losses });
    if (result.finite) {
      state.nonFinite.inARow = 0;
      sums.add(losses);
    } else {
      yield this.publish(this.nonFiniteStep(state, batch, result));
      this.stopIfDiverged(state);
    }
    yield this.publish({
      type: 'iteration',
      iteration: state.iteration,
      epoch,
      batch: batch.index,
      batchesPerEpoch: run.batchesPerEpoch,
      totalIterations: run.totalIterations,
      lr,
      losses,
      total: result.total,
      finite: result.finite,
      numPositives: result.numPositives,
      gradNorm: result.gradNorm,
      images,
      dataWaitSeconds,
      imagesPerSecond: run.clock.imagesPerSecond(),
      etaSeconds: run.clock.secondsFor(run.totalIterations - state.iteration),
      elapsedSeconds: run.elapsed(),
    });
  }

  /** Counts a skipped (NaN/Inf) step and says so. */
  private nonFiniteStep(state: TrainingState, batch: TrainingBatch, result: StepResult): TrainEvent {
    const t = this.config.train;
    state.nonFinite.total++;
    state.nonFinite.inARow++;
    return {
      type: 'non-finite',
      iteration: state.iteration,
      epoch: state.epoch,
      batch: batch.index,
      inARow: state.nonFinite.inARow,
      total: state.nonFinite.total,
      limit: t.maxNonFiniteInARow,
      lastCheckpoint: this.lastCheckpoint?.weights ?? null,
      message: `iteration ${state.iteration}: the loss or a gradient is NaN/Inf (total ${result.total}); the step was skipped (${state.nonFinite.inARow} in a row, the run stops at ${t.maxNonFiniteInARow})`,
    };
  }

  /** TRAINING_DIVERGED after train.maxNonFiniteInARow skipped steps in a row. */
  private stopIfDiverged(state: TrainingState): void {
    const t = this.config.train;
    const last = this.lastCheckpoint?.weights ?? null;
    if (state.nonFinite.inARow >= t.maxNonFiniteInARow) {
      throw new LaxrayError(
        'TRAINING_DIVERGED',
        `training diverged: ${state.nonFinite.inARow} non-finite (NaN/Inf) losses in a row up to iteration ${state.iteration} (train.maxNonFiniteInARow = ${t.maxNonFiniteInARow}). ` +
          (last !== null ? `The last good checkpoint is intact: ${last} (iteration ${this.lastCheckpoint!.iteration}). ` : 'No checkpoint was written. ') +
          `Lower train.baseLr (now ${t.baseLr}), lengthen train.warmupIters (now ${t.warmupIters}) or set train.gradClipNorm (now ${t.gradClipNorm}), then start again` +
          (last !== null ? ' or resume from it.' : '.'),
      );
    }
  }

  /** The final validation, the run report (rank 0), the done event and the summary. */
  private async *finish(run: RunContext): AsyncGenerator<TrainEvent, TrainSummary, undefined> {
    const { state } = run;
    const completed = state.epoch >= this.config.train.epochs;
    let evaluation: Evaluation | null = null;
    if (completed && this.valSet !== null) {
      // the final validation ran at the last epoch end (unless a resumed run was already complete)
      if (run.lastValidation === null || run.lastValidation.record.iteration !== state.iteration) run.lastValidation = yield* this.validate(state);
      evaluation = run.lastValidation.evaluation;
    }
    if (run.group !== null) await run.group.barrier('the end of training');
    const report: RunReportFiles = run.rank === 0 ? await this.writeReport(state, evaluation, completed, run.elapsed()) : {};
    const summary: TrainSummary = {
      iteration: state.iteration,
      epoch: state.epoch,
      completed,
      seconds: run.elapsed(),
      lastCheckpoint: this.lastCheckpoint?.weights ?? null,
      validation: state.validationHistory.at(-1) ?? null,
      evaluation,
      report,
    };
    const { iteration, epoch, seconds, lastCheckpoint, validation } = summary;
    yield this.publish({ type: 'done', iteration, epoch, completed, seconds, nonFinite: state.nonFinite.total, lastCheckpoint, validation, report });
    return summary;
  }

  private writeReport(state: TrainingState, evaluation: Evaluation | null, completed: boolean, seconds: number): Promise<RunReportFiles> {
    return writeRunReport(path.join(this.runDir, RUN_FILES.report), {
      config: this.config,
      lossHistory: state.lossHistory,
      validationHistory: state.validationHistory,
      evaluation,
      valSet: this.valSet,
      samples: completed ? (this.options.reportSamples ?? 8) : 0,
      ...(this.options.drawThreshold !== undefined ? { drawThreshold: this.options.drawThreshold } : {}),
      training: { iterations: state.iteration, epochs: state.epoch, seconds, nonFinite: state.nonFinite.total },
    });
  }

  /** One training step (a collective in data-parallel runs). */
  private async step(batch: TrainingBatch, lr: number): Promise<StepResult> {
    return this.detector.trainStep(batch, lr);
  }

  /** The process group of a data-parallel run (joined here unless the caller gave one), or null. */
  private async joinGroup(): Promise<{ group: ProcessGroup | null; owned: boolean }> {
    const option = this.options.distributed;
    if (option === null) return { group: null, owned: false };
    const { detector } = this;
    let group: ProcessGroup | null;
    let owned = false;
    if (option instanceof ProcessGroup) {
      group = option;
    } else {
      const settings = resolveDistributed(option ?? {}, this.config.device);
      if (settings === null) return { group: null, owned: false };
      const device = detector.device ?? this.config.device;
      const expected = workerDevice(device, settings);
      if (device !== expected) {
        throw new LaxrayError('INVALID_ARGUMENT', `LOCAL_RANK ${settings.localRank} trains on ${expected} (one GPU per local rank), but the detector is on ${device}: create it with device '${expected}'`);
      }
      group = await ProcessGroup.create(settings, expected);
      owned = true;
    }
    if (detector.attachProcessGroup === undefined || detector.broadcastTrainingState === undefined) {
      if (owned) await group.close();
      throw new LaxrayError('INVALID_ARGUMENT', 'data-parallel training needs a detector with attachProcessGroup and broadcastTrainingState (laxray\'s Detector)');
    }
    if (detector.device !== undefined && detector.device !== group.device) {
      if (owned) await group.close();
      throw new LaxrayError('INVALID_ARGUMENT', `the process group runs on ${group.device} but the detector is on ${detector.device}: create the detector on the group's device`);
    }
    detector.attachProcessGroup(group);
    return { group, owned };
  }

  /**
   * Where the run starts: the run directory prepared (fresh) or restored
   * (resume) by rank 0, whose state (without the loss history, which only
   * rank 0 keeps) the other ranks adopt.
   */
  private async startingState(): Promise<TrainingState> {
    const group = this.group;
    if (group === null) return this.prepareRunDir();
    let own: TrainingState | undefined;
    const shared = await group.decide(async (): Promise<SharedState> => {
      own = await this.prepareRunDir();
      return { ...own, lossHistory: [], lastCheckpoint: this.lastCheckpoint };
    });
    if (own !== undefined) return own;
    const { lastCheckpoint, ...state } = shared;
    this.lastCheckpoint = lastCheckpoint;
    return { ...state, config: this.config };
  }

  /** Validation on the val set (sharded over a data-parallel job); appends to the history and yields its events. */
  private async *validate(state: TrainingState): AsyncGenerator<TrainEvent, { record: ValidationRecord; evaluation: Evaluation | null }, undefined> {
    const val = this.valSet!;
    yield this.publish({ type: 'validation-start', epoch: state.epoch, iteration: state.iteration, images: val.images.length });
    const started = performance.now();
    const options = {
      batchSize: this.options.evalBatchSize ?? this.config.train.batchSize,
      workers: this.options.workers ?? Math.min(this.config.data.workers, 4),
    };
    const evaluation = this.group === null ? await evaluateDetector(this.detector, val, options) : await evaluateSharded(this.detector, val, this.group, options);
    let event: ValidationEvent | undefined;
    if (evaluation !== null) {
      event = {
        type: 'validation',
        epoch: state.epoch,
        iteration: state.iteration,
        stats: { ...evaluation.overall.stats },
        mAP50: evaluation.overall.mAP50,
        challenging: evaluation.challenging
          ? { stats: { ...evaluation.challenging.stats }, mAP50: evaluation.challenging.mAP50, images: evaluation.challenging.counts.images }
          : null,
        seconds: (performance.now() - started) / 1000,
        images: evaluation.overall.counts.images,
        perClassAP: Object.fromEntries(evaluation.overall.perClass.map((c) => [c.name, c.AP])),
      };
    }
    // Every rank keeps rank 0's record, so their histories agree.
    if (this.group !== null) event = await this.group.broadcastJson(event);
    const { type: _type, seconds: _seconds, images: _images, perClassAP: _perClassAP, ...record } = event!;
    state.validationHistory = state.validationHistory.filter((r) => r.iteration !== record.iteration);
    state.validationHistory.push(record);
    yield this.publish(event!);
    return { record, evaluation };
  }

  private async checkpoint(state: TrainingState, reason: 'interval' | 'epoch' | 'stop', elapsedSeconds: number): Promise<TrainEvent> {
    state.elapsedSeconds = elapsedSeconds;
    state.savedAt = new Date().toISOString();
    let files: CheckpointFiles;
    if (this.group === null || this.group.rank === 0) {
      files = await writeCheckpoint(this.runDir, this.detector, state);
      await pruneCheckpoints(this.runDir, this.options.keepCheckpoints ?? 3);
    } else {
      files = checkpointFiles(this.runDir, state.iteration); // rank 0 writes them
    }
    this.lastCheckpoint = files;
    return { type: 'checkpoint', iteration: state.iteration, epoch: state.epoch, batch: state.batch, reason, weights: files.weights, optimizer: files.optimizer, state: files.state };
  }

  /** Every image header of the training and validation sets, read before anything is written (data.verifyImages). */
  private async verifyImages(): Promise<void> {
    for (const set of [this.trainSet, this.valSet]) {
      if (set !== null && set.imagesVerified !== true) await verifyDatasetImages(set);
    }
  }

  /** Fresh run: checks the folder, writes config.json, starts metrics.jsonl. Resume: restores the latest checkpoint. Both first delete temp files of killed writes. */
  private async prepareRunDir(): Promise<TrainingState> {
    const runDir = this.runDir;
    const stale = await removeStaleRunTempFiles(runDir);
    if (stale.length > 0) this.emitWarning(`removed ${stale.length} temp file(s) of interrupted writes: ${stale.map((f) => path.relative(runDir, f)).join(', ')}`);
    const metricsFile = path.join(runDir, RUN_FILES.metrics);
    const latestFile = path.join(runDir, RUN_FILES.latest);
    if (this.options.resume) {
      const checkpoint = await readLatestCheckpoint(runDir);
      const saved = checkpoint.state;
      if (JSON.stringify(saved.config.model) !== JSON.stringify(this.config.model)) {
        throw new LaxrayError('INVALID_CONFIG', `cannot resume ${runDir}: its model config (${checkpoint.files.state}) differs from this run's; resume with the run's own config (${path.join(runDir, RUN_FILES.config)})`);
      }
      await restoreCheckpoint(this.detector, checkpoint);
      this.lastCheckpoint = { ...checkpoint.files, latest: latestFile, iteration: saved.iteration };
      await truncateMetrics(metricsFile, saved.iteration);
      this.metrics = createWriteStream(metricsFile, { flags: 'a' });
      const state: TrainingState = { ...saved, config: this.config, nonFinite: { ...saved.nonFinite } };
      if (saved.seed !== this.config.train.seed) {
        this.emitWarning(`resuming with train.seed ${this.config.train.seed}, but the run used ${saved.seed}: the data order will differ from an uninterrupted run`);
      }
      return state;
    }
    if (existsSync(latestFile)) {
      throw new LaxrayError('INVALID_ARGUMENT', `${runDir} already holds a training run (${latestFile}): resume it (--resume) or choose another run directory`);
    }
    await fs.mkdir(runDir, { recursive: true });
    await writeRunConfig(runDir, this.config);
    this.metrics = createWriteStream(metricsFile, { flags: 'w' });
    return {
      format: 'laxray-training-state',
      version: 1,
      config: this.config,
      epoch: 0,
      batch: 0,
      iteration: 0,
      seed: this.config.train.seed,
      lossHistory: [],
      validationHistory: [],
      nonFinite: { total: 0, inARow: 0 },
      elapsedSeconds: 0,
      savedAt: new Date().toISOString(),
    };
  }

  private emitWarning(message: string): void {
    this.pendingWarnings.push(message);
  }

  private publish<E extends TrainEvent>(event: E): E {
    this.metrics?.write(JSON.stringify(event) + '\n');
    this.emit(event.type, event);
    this.emit('event', event);
    return event;
  }

  private closeMetrics(): Promise<void> {
    const stream = this.metrics;
    this.metrics = undefined;
    if (stream === undefined) return Promise.resolve();
    return new Promise((resolve) => stream.end(resolve));
  }
}

/** Keeps the metrics.jsonl lines up to `iteration` (what the checkpoint being resumed knew), atomically. */
async function truncateMetrics(file: string, iteration: number): Promise<void> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch {
    return;
  }
  const kept: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const event = JSON.parse(line) as { iteration?: number; type?: string };
      if (typeof event.iteration === 'number' && event.iteration > iteration) continue;
      if (event.type === 'done') continue;
      kept.push(line);
    } catch {
      // a torn last line from a crash
    }
  }
  await writeFileAtomic(file, kept.map((l) => l + '\n').join(''));
}
