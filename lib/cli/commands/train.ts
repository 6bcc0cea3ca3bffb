// `laxray train`: train a detector from a config (file and/or preset, flags on
// top), with progress bars or JSON-line events, checkpoints, validation, a
// report in the run directory, and --resume.
import path from 'node:path';
import { existsSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { LaxrayError } from '../../errors.js';
import { Detector } from '../../detector.js';
import { setThreads } from '../../runtime.js';
import { deepMerge, overrideFromAssignment, PRESET_NAMES, resolveConfig, type LaxrayConfig, type LaxrayConfigInput } from '../../config/index.js';
import { loadConfigDatasets, readRunConfig, RUN_FILES, Trainer, type TrainSummary } from '../../train/index.js';
import { createProgressPrinter, formatDuration } from '../../train/progress.js';
import type { JsonObject } from '../../config/merge.js';

interface TrainCliOptions {
  config?: string;
  preset?: string;
  train?: string;
  val?: string;
  runDir?: string;
  resume?: boolean;
  device?: string;
  set: string[];
  maxIters?: number;
  epochs?: number;
  batchSize?: number;
  json?: boolean;
  progress: boolean;
}

export function deviceOption(v: string): string {
  if (!/^(cpu|cuda(:\d+)?)$/.test(v)) throw new InvalidArgumentError(`expected cpu, cuda or cuda:<index>, got "${v}"`);
  return v;
}

export function positiveInteger(name: string): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer, got "${v}"`);
    return n;
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A COCO file given on the command line as a data split: images relative to the file's folder. */
function splitFromFile(file: string, flag: string): { annotations: string; images: string } {
  const abs = path.resolve(file);
  if (!existsSync(abs)) throw new LaxrayError('INVALID_ARGUMENT', `${flag} ${file}: no such file; give a COCO detection JSON (its images are looked up relative to its folder)`);
  return { annotations: abs, images: path.dirname(abs) };
}

function defaultRunDir(config: LaxrayConfig): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return path.join('runs', `${config.preset ?? 'run'}-${stamp}`);
}

/** Prints what a person wants to read after training. */
export function printTrainSummary(summary: TrainSummary, runDir: string, out: NodeJS.WritableStream = process.stdout): void {
  const lines = [
    summary.completed
      ? `trained ${summary.epoch} epochs (${summary.iteration} iterations) in ${formatDuration(summary.seconds)}`
      : `stopped after ${summary.iteration} iterations (${formatDuration(summary.seconds)}); continue with: laxray train --run-dir ${runDir} --resume`,
    `run: ${runDir}`,
    `checkpoint: ${summary.lastCheckpoint ?? '(none)'}`,
  ];
  if (summary.validation) {
    const v = summary.validation;
    const p = (x: number | null | undefined) => (x === null || x === undefined || x < 0 ? '-' : (100 * x).toFixed(1));
    lines.push(`validation: AP ${p(v.stats.AP)}  AP50 ${p(v.stats.AP50)}  AP75 ${p(v.stats.AP75)}  (AP@[.5:.95], %)`);
    if (v.challenging) lines.push(`challenging subset (${v.challenging.images} images): AP ${p(v.challenging.stats.AP)}  AP50 ${p(v.challenging.stats.AP50)}`);
  }
  const r = summary.report;
  const files = [r.lossPlot, r.metricPlot, r.summary].filter((f): f is string => f !== undefined);
  if (files.length > 0) lines.push(`report: ${files.join(', ')}`);
  out.write(lines.join('\n') + '\n');
}

export function register(program: Command): void {
  program
    .command('train')
    .description('train a detector (ATSS, ATSS+LAcls, ATSS+LAreg) on a COCO dataset: checkpoints, validation mAP, a report, exact --resume')
    .option('-c, --config <file>', 'run config (JSON; see docs for the fields); flags below override it')
    .option('-p, --preset <name>', `start from a preset: ${PRESET_NAMES.join(', ')}`)
    .option('--train <coco.json>', 'training set (overrides data.train; images relative to the file)')
    .option('--val <coco.json>', 'validation set (overrides data.val)')
    .option('-r, --run-dir <dir>', 'run directory for config, checkpoints, metrics and report (default runs/<preset>-<time>)')
    .option('--resume', 'continue the run in --run-dir from its latest checkpoint, exactly where it stopped')
    .option('--device <device>', 'cpu, cuda or cuda:<index> (default: LAXRAY_DEVICE, else cpu)', deviceOption)
    .option('--set <key=value>', 'override one config field, e.g. --set train.baseLr=0.005 (repeatable)', collect, [])
    .option('--epochs <n>', 'training epochs (train.epochs)', positiveInteger('--epochs'))
    .option('--batch-size <n>', 'images per iteration (train.batchSize; the lr scales with it)', positiveInteger('--batch-size'))
    .option('--max-iters <n>', 'stop after n iterations in total, with a checkpoint (continue with --resume)', positiveInteger('--max-iters'))
    .option('--json', 'print every progress event as one JSON object per line on stdout (nothing else)')
    .option('--no-progress', 'no progress bars / log lines on stderr')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  laxray train --preset atss-lacls --train data/train.json --val data/val.json --run-dir runs/lacls\n' +
        '  laxray train --config my-run.json --device cuda --set train.batchSize=16\n' +
        '  laxray train --run-dir runs/lacls --resume\n' +
        '\nThe run directory gets config.json, checkpoints/ (iter_<N>.safetensors + optimizer + state, latest.json),\n' +
        'metrics.jsonl and report/ (loss.png, map.png, summary.txt, detections/). Ctrl-C stops after the current\n' +
        'step with a checkpoint.',
    )
    .action(async (opts: TrainCliOptions) => {
      let overrides: LaxrayConfigInput = {};
      for (const assignment of opts.set) overrides = deepMerge(overrides as JsonObject, overrideFromAssignment(assignment) as JsonObject) as LaxrayConfigInput;
      const flags: LaxrayConfigInput = {
        ...(opts.device !== undefined ? { device: opts.device as LaxrayConfig['device'] } : {}),
        ...(opts.train !== undefined || opts.val !== undefined
          ? { data: { ...(opts.train !== undefined ? { train: splitFromFile(opts.train, '--train') } : {}), ...(opts.val !== undefined ? { val: splitFromFile(opts.val, '--val') } : {}) } }
          : {}),
        ...(opts.epochs !== undefined || opts.batchSize !== undefined
          ? { train: { ...(opts.epochs !== undefined ? { epochs: opts.epochs } : {}), ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}) } }
          : {}),
      };
      overrides = deepMerge(overrides as JsonObject, flags as JsonObject) as LaxrayConfigInput;

      let config: LaxrayConfig;
      let runDir: string;
      if (opts.resume) {
        if (opts.runDir === undefined) throw new LaxrayError('INVALID_ARGUMENT', '--resume needs --run-dir <dir>: the run to continue');
        if (opts.config !== undefined || opts.preset !== undefined) {
          throw new LaxrayError(
            'INVALID_ARGUMENT',
            `--resume continues with the run's own config (${path.join(opts.runDir, RUN_FILES.config)}); drop --config/--preset (use --set key=value to change a field)`,
          );
        }
        runDir = opts.runDir;
        config = readRunConfig(runDir, overrides);
      } else {
        if (opts.preset !== undefined && !(PRESET_NAMES as readonly string[]).includes(opts.preset)) {
          throw new LaxrayError('INVALID_ARGUMENT', `--preset ${opts.preset}: unknown preset; choose one of ${PRESET_NAMES.join(', ')}`);
        }
        if (opts.config !== undefined && !existsSync(opts.config)) {
          throw new LaxrayError('INVALID_ARGUMENT', `--config ${opts.config}: no such file`);
        }
        const presetOverride: LaxrayConfigInput = opts.preset !== undefined ? { preset: opts.preset as LaxrayConfig['preset'] } : {};
        config = resolveConfig(opts.config ?? {}, deepMerge(presetOverride as JsonObject, overrides as JsonObject) as LaxrayConfigInput);
        runDir = opts.runDir ?? defaultRunDir(config);
      }

      const { train, val } = await loadConfigDatasets(config);
      if (config.classes === null) {
        config = resolveConfig(config, { classes: train.categories.map((c) => c.name), model: { head: { numClasses: train.numClasses } } });
      }
      if (config.threads > 0) setThreads(config.threads);
      const detector = await Detector.create(config);
      const controller = new AbortController();
      const printer = createProgressPrinter({ json: opts.json === true, progress: opts.progress });
      const onSigint = (): void => {
        printer.log('laxray: stopping after the current step (writing a checkpoint); press Ctrl-C again to quit at once');
        controller.abort();
        process.once('SIGINT', () => process.exit(130));
      };
      process.once('SIGINT', onSigint);
      const trainer = new Trainer({ detector, config, train, val, runDir, resume: opts.resume === true, signal: controller.signal, ...(opts.maxIters !== undefined ? { maxIterations: opts.maxIters } : {}) });
      trainer.on('event', (e) => printer.onEvent(e));
      let summary: TrainSummary;
      try {
        summary = await trainer.run();
      } finally {
        printer.stop();
        process.removeListener('SIGINT', onSigint);
      }
      if (!opts.json) printTrainSummary(summary, runDir);
      if (controller.signal.aborted) process.exitCode = 130;
    });
}
