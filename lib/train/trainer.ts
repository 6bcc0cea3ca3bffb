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
import { EventEmitter } from 'node:events';
import { createWriteStream, existsSync, promises as fs, type WriteStream } from 'node:fs';
import path from 'node:path';
import { LaxrayError } from '../errors.js';
import { learningRateAt, type LaxrayConfig } from '../config/index.js';
import { DataLoader, type Dataset, type TrainingBatch } from '../data/index.js';
import type { StepResult } from '../detector.js';
import { checkClasses, evaluateDetector, type DetectingModel, type Evaluation } from './evaluate.js';
import type { TrainEvent, ValidationEvent } from './events.js';
import { writeRunReport, type RunReportFiles } from './report.js';
import {
  pruneCheckpoints,
  readLatestCheckpoint,
  restoreCheckpoint,
  RUN_FILES,
  writeCheckpoint,
  writeRunConfig,
  type CheckpointableModel,
  type CheckpointFiles,
  type TrainingState,
  type ValidationRecord,
} from './run_dir.js';

/** What the trainer needs of a detector (lib/detector.ts's Detector has it all). */
export interface TrainableDetector extends CheckpointableModel, DetectingModel {
  trainStep(batch: TrainingBatch, lr: number): Promise<StepResult>;
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
    if (this.valSet) checkClasses(this.config, this.valSet, 'the validation set');
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
    const started = performance.now();
    const config = this.config;
    const t = config.train;
    const { detector } = this;
    let loader: DataLoader | undefined;
    try {
      detector.configureOptimizer({ momentum: t.momentum, weightDecay: t.weightDecay, gradClipNorm: t.gradClipNorm });
      const state = await this.prepareRunDir();
      const elapsedBefore = state.elapsedSeconds;
      const elapsed = () => elapsedBefore + (performance.now() - started) / 1000;

      const workers = this.options.workers ?? config.data.workers;
      loader = new DataLoader(this.trainSet, {
        batchSize: t.batchSize,
        train: true,
        seed: t.seed,
        flipProbability: config.data.flipProbability,
        scale: config.data.imageScale,
        mean: config.data.mean,
        std: config.data.std,
        sizeDivisor: config.data.padDivisor,
        workers,
        prefetch: config.data.prefetch,
      });
      const batchesPerEpoch = loader.length;
      if (batchesPerEpoch === 0) {
        throw new LaxrayError('INVALID_DATASET', `the training set ${this.trainSet.source ?? ''} has no image with annotations to train on`);
      }
      const totalIterations = t.epochs * batchesPerEpoch;
      yield this.publish({
        type: 'start',
        runDir: this.runDir,
        iteration: state.iteration,
        epoch: state.epoch,
        batch: state.batch,
        epochs: t.epochs,
        batchesPerEpoch,
        totalIterations,
        trainImages: loader.images.length,
        valImages: this.valSet?.images.length ?? 0,
        device: config.device,
        resumedFrom: this.options.resume ? this.lastCheckpoint?.state ?? null : null,
      });
      for (const message of this.pendingWarnings.splice(0)) yield this.publish({ type: 'warning', message });
      if (state.iteration === 0 && this.lastCheckpoint === null) {
        // checkpoint 0: the initial weights, so a good checkpoint always exists
        yield this.publish(await this.checkpoint(state, 'interval', elapsed()));
      }

      const stepTimes: number[] = [];
      const stepImages: number[] = [];
      let stopped = false;
      let lastValidation: { record: ValidationRecord; evaluation: Evaluation } | null = null;
      const stopRequested = () => (this.options.maxIterations !== undefined && state.iteration >= this.options.maxIterations) || this.options.signal?.aborted === true;

      while (state.epoch < t.epochs && !stopped) {
        const epoch = state.epoch;
        const epochStarted = performance.now();
        const sums: Record<string, number> = {};
        let finiteSteps = 0;
        if (stopRequested()) {
          stopped = true;
          break;
        }
        let tick = performance.now();
        for await (const batch of loader.iterate({ epoch, startBatch: state.batch })) {
          const dataWaitSeconds = (performance.now() - tick) / 1000; // since the last step ended
          const lr = learningRateAt(config, state.iteration, epoch);
          const result = await detector.trainStep(batch, lr);
          loader.recycle(batch);
          state.iteration++;
          state.batch = batch.index + 1;
          const now = performance.now();
          stepTimes.push((now - tick) / 1000);
          stepImages.push(batch.metas.length);
          tick = now;
          if (stepTimes.length > STEP_WINDOW) {
            stepTimes.shift();
            stepImages.shift();
          }
          const windowSeconds = stepTimes.reduce((a, b) => a + b, 0);
          const losses: Record<string, number> = { ...result.losses, total: result.total };
          if (!result.finite) for (const k of Object.keys(losses)) if (!Number.isFinite(losses[k]!)) losses[k] = Number.NaN;
          state.lossHistory.push({ iteration: state.iteration, epoch, lr, losses });

          if (result.finite) {
            state.nonFinite.inARow = 0;
            finiteSteps++;
            for (const [k, v] of Object.entries(losses)) sums[k] = (sums[k] ?? 0) + v;
          } else {
            state.nonFinite.total++;
            state.nonFinite.inARow++;
            const last = this.lastCheckpoint?.weights ?? null;
            yield this.publish({
              type: 'non-finite',
              iteration: state.iteration,
              epoch,
              batch: batch.index,
              inARow: state.nonFinite.inARow,
              total: state.nonFinite.total,
              limit: t.maxNonFiniteInARow,
              lastCheckpoint: last,
              message: `iteration ${state.iteration}: the loss or a gradient is NaN/Inf (total ${result.total}); the step was skipped (${state.nonFinite.inARow} in a row, the run stops at ${t.maxNonFiniteInARow})`,
            });
            if (state.nonFinite.inARow >= t.maxNonFiniteInARow) {
              throw new LaxrayError(
                'TRAINING_DIVERGED',
                `training diverged: ${state.nonFinite.inARow} non-finite (NaN/Inf) losses in a row up to iteration ${state.iteration} (train.maxNonFiniteInARow = ${t.maxNonFiniteInARow}). ` +
                  (last !== null
                    ? `The last good checkpoint is intact: ${last} (iteration ${this.lastCheckpoint!.iteration}). `
                    : 'No checkpoint was written. ') +
                  `Lower train.baseLr (now ${t.baseLr}), lengthen train.warmupIters (now ${t.warmupIters}) or set train.gradClipNorm (now ${t.gradClipNorm}), then start again` +
                  (last !== null ? ' or resume from it.' : '.'),
              );
            }
          }
          const remaining = totalIterations - state.iteration;
          yield this.publish({
            type: 'iteration',
            iteration: state.iteration,
            epoch,
            batch: batch.index,
            batchesPerEpoch,
            totalIterations,
            lr,
            losses,
            total: result.total,
            finite: result.finite,
            numPositives: result.numPositives,
            gradNorm: result.gradNorm,
            images: batch.metas.length,
            dataWaitSeconds,
            imagesPerSecond: windowSeconds > 0 ? stepImages.reduce((a, b) => a + b, 0) / windowSeconds : 0,
            etaSeconds: stepTimes.length > 0 ? (remaining * windowSeconds) / stepTimes.length : 0,
            elapsedSeconds: elapsed(),
          });

          const lastOfEpoch = state.batch >= batchesPerEpoch;
          if (stopRequested() && !lastOfEpoch) {
            stopped = true;
            if (this.lastCheckpoint?.iteration !== state.iteration) yield this.publish(await this.checkpoint(state, 'stop', elapsed()));
            break;
          }
          if (!lastOfEpoch && state.iteration % t.checkpointEvery === 0 && state.nonFinite.inARow === 0) {
            yield this.publish(await this.checkpoint(state, 'interval', elapsed()));
          }
          tick = performance.now(); // checkpoint time does not count as step time
        }
        if (stopped) break;

        // epoch end
        state.epoch = epoch + 1;
        state.batch = 0;
        yield this.publish({
          type: 'epoch',
          epoch: epoch + 1,
          iteration: state.iteration,
          meanLosses: Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / Math.max(1, finiteSteps)])),
          seconds: (performance.now() - epochStarted) / 1000,
        });
        const validateNow = this.valSet !== null && ((epoch + 1) % t.validateEvery === 0 || epoch + 1 === t.epochs);
        if (validateNow) {
          const validation = yield* this.validate(state);
          lastValidation = validation;
        }
        if (state.nonFinite.inARow === 0) {
          yield this.publish(await this.checkpoint(state, 'epoch', elapsed()));
        }
        if (stopRequested() && state.epoch < t.epochs) stopped = true;
      }

      const completed = state.epoch >= t.epochs;
      let report: RunReportFiles = {};
      let evaluation: Evaluation | null = null;
      if (completed && this.valSet !== null) {
        // the final validation ran at the last epoch end (unless a resumed run was already complete)
        if (lastValidation === null || lastValidation.record.iteration !== state.iteration) lastValidation = yield* this.validate(state);
        evaluation = lastValidation.evaluation;
      }
      report = await writeRunReport(path.join(this.runDir, RUN_FILES.report), {
        config,
        lossHistory: state.lossHistory,
        validationHistory: state.validationHistory,
        evaluation,
        valSet: this.valSet,
        samples: completed ? (this.options.reportSamples ?? 8) : 0,
        ...(this.options.drawThreshold !== undefined ? { drawThreshold: this.options.drawThreshold } : {}),
        training: { iterations: state.iteration, epochs: state.epoch, seconds: elapsed(), nonFinite: state.nonFinite.total },
      });
      const summary: TrainSummary = {
        iteration: state.iteration,
        epoch: state.epoch,
        completed,
        seconds: elapsed(),
        lastCheckpoint: this.lastCheckpoint?.weights ?? null,
        validation: state.validationHistory.at(-1) ?? null,
        evaluation,
        report,
      };
      yield this.publish({
        type: 'done',
        iteration: state.iteration,
        epoch: state.epoch,
        completed,
        seconds: summary.seconds,
        nonFinite: state.nonFinite.total,
        lastCheckpoint: summary.lastCheckpoint,
        validation: summary.validation,
        report,
      });
      return summary;
    } finally {
      await loader?.close();
      await this.closeMetrics();
      this.running = false;
    }
  }

  /** Validation on the val set; appends to the history and yields its events. */
  private async *validate(state: TrainingState): AsyncGenerator<TrainEvent, { record: ValidationRecord; evaluation: Evaluation }, undefined> {
    const val = this.valSet!;
    yield this.publish({ type: 'validation-start', epoch: state.epoch, iteration: state.iteration, images: val.images.length });
    const started = performance.now();
    const evaluation = await evaluateDetector(this.detector, val, {
      batchSize: this.options.evalBatchSize ?? this.config.train.batchSize,
      workers: this.options.workers ?? Math.min(this.config.data.workers, 4),
    });
    const record: ValidationRecord = {
      epoch: state.epoch,
      iteration: state.iteration,
      stats: { ...evaluation.overall.stats },
      mAP50: evaluation.overall.mAP50,
      challenging: evaluation.challenging
        ? { stats: { ...evaluation.challenging.stats }, mAP50: evaluation.challenging.mAP50, images: evaluation.challenging.counts.images }
        : null,
    };
    state.validationHistory = state.validationHistory.filter((r) => r.iteration !== record.iteration);
    state.validationHistory.push(record);
    const event: ValidationEvent = {
      type: 'validation',
      ...record,
      seconds: (performance.now() - started) / 1000,
      images: evaluation.overall.counts.images,
      perClassAP: Object.fromEntries(evaluation.overall.perClass.map((c) => [c.name, c.AP])),
    };
    yield this.publish(event);
    return { record, evaluation };
  }

  private async checkpoint(state: TrainingState, reason: 'interval' | 'epoch' | 'stop', elapsedSeconds: number): Promise<TrainEvent> {
    state.elapsedSeconds = elapsedSeconds;
    state.savedAt = new Date().toISOString();
    const files = await writeCheckpoint(this.runDir, this.detector, state);
    this.lastCheckpoint = files;
    await pruneCheckpoints(this.runDir, this.options.keepCheckpoints ?? 3);
    return { type: 'checkpoint', iteration: state.iteration, epoch: state.epoch, batch: state.batch, reason, weights: files.weights, optimizer: files.optimizer, state: files.state };
  }

  /** Fresh run: checks the folder, writes config.json, starts metrics.jsonl. Resume: restores the latest checkpoint. */
  private async prepareRunDir(): Promise<TrainingState> {
    const runDir = this.runDir;
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
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, kept.map((l) => l + '\n').join(''));
  await fs.rename(tmp, file);
}
