// `laxray train`: train a detector from a config (file and/or preset, flags on
// top), with progress bars or JSON-line events, checkpoints, validation, a
// report in the run directory, and --resume.
//
// Data-parallel: with --nproc-per-node / --nnodes this process is the
// launcher of this machine's workers (lib/train/distributed/launcher.ts); a
// process started with the torchrun environment (WORLD_SIZE > 1) is a worker:
// it joins the job, takes rank 0's config (which must match its own unless
// resuming) and trains its shard; rank 0 alone prints and writes.
import path from 'node:path';
import { existsSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { LaxrayError } from '../../errors.js';
import { collect, deviceOption, nonNegativeInteger, positiveInteger } from '../options.js';
import { PRESET_NAMES } from '../../config/preset_names.js';
import type { LaxrayConfig, LaxrayConfigInput } from '../../config/index.js';
import type { TrainSummary } from '../../train/index.js';
import type { ProcessGroup } from '../../train/distributed/group.js';
import { DEFAULT_MASTER_ADDR, DEFAULT_MASTER_PORT, resolveDistributed, workerDevice, type DistributedBackend } from '../../train/distributed/settings.js';
import { formatDuration } from '../../train/duration.js';
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
  nprocPerNode?: number;
  nnodes?: number;
  nodeRank?: number;
  masterAddr?: string;
  masterPort?: number;
  distBackend?: DistributedBackend;
  distTimeout?: number;
}

/** What a training process needs, loaded when it starts (so `laxray --help` and the launcher start fast). */
async function trainingModules() {
  const [config, train, detector, runtime, progress] = await Promise.all([
    import('../../config/index.js'),
    import('../../train/index.js'),
    import('../../detector.js'),
    import('../../runtime.js'),
    import('../../train/progress.js'),
  ]);
  return { ...config, ...train, ...detector, ...runtime, ...progress };
}
type TrainingModules = Awaited<ReturnType<typeof trainingModules>>;

/** The launcher's own flags: workers get the command line without them. */
const LAUNCHER_FLAGS = ['--nproc-per-node', '--nnodes', '--node-rank', '--master-addr', '--master-port'];

/** `train ...` as given, minus the launcher's flags (and their values). */
export function workerArgs(rawArgs: readonly string[]): string[] {
  const at = rawArgs.indexOf('train');
  const args = rawArgs.slice(at + 1);
  const out = ['train'];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    const flag = arg.split('=')[0]!;
    if (LAUNCHER_FLAGS.includes(flag)) {
      if (!arg.includes('=')) i++; // skip its value
      continue;
    }
    out.push(arg);
  }
  return out;
}

function portOption(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || n < 1 || n > 65535) throw new InvalidArgumentError(`expected a TCP port 1..65535, got "${v}"`);
  return n;
}

function backendOption(v: string): DistributedBackend {
  if (v !== 'gloo' && v !== 'nccl') throw new InvalidArgumentError(`expected gloo (CPU) or nccl (CUDA), got "${v}"`);
  return v;
}

function secondsOption(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a number of seconds > 0, got "${v}"`);
  return n;
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

export function register(command: Command): void {
  command
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
    .option('--nproc-per-node <n>', 'data-parallel: start n worker processes on this machine (one per GPU with CUDA); this command becomes their launcher', positiveInteger('--nproc-per-node'))
    .option('--nnodes <n>', 'data-parallel: machines in the job, each running this command with its --node-rank (default 1)', positiveInteger('--nnodes'))
    .option('--node-rank <r>', "data-parallel: this machine's index, 0..nnodes-1 (default 0)", nonNegativeInteger('--node-rank'))
    .option('--master-addr <host>', `data-parallel: host of node 0, which serves the rendezvous (default MASTER_ADDR, else ${DEFAULT_MASTER_ADDR})`)
    .option('--master-port <port>', `data-parallel: its TCP port (default MASTER_PORT, else ${DEFAULT_MASTER_PORT})`, portOption)
    .option('--dist-backend <name>', 'data-parallel: gloo (CPU) or nccl (CUDA) (default: by device)', backendOption)
    .option('--dist-timeout <seconds>', 'data-parallel: rendezvous and collective timeout; a rank that does not arrive in time fails the job (default 60)', secondsOption)
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  laxray train --preset atss-lacls --train data/train.json --val data/val.json --run-dir runs/lacls\n' +
        '  laxray train --config my-run.json --device cuda --set train.batchSize=16\n' +
        '  laxray train --run-dir runs/lacls --resume\n' +
        '  laxray train --config my-run.json --nproc-per-node 2          # 2 processes here (batchSize each)\n' +
        '  laxray train --config my-run.json --device cuda --nproc-per-node 8 --nnodes 2 --node-rank 0 --master-addr node0\n' +
        '\nThe run directory gets config.json, checkpoints/ (iter_<N>.safetensors + optimizer + state, latest.json),\n' +
        'metrics.jsonl and report/ (loss.png, map.png, summary.txt, detections/). Ctrl-C stops after the current\n' +
        'step with a checkpoint. A process started with the torchrun environment (RANK, WORLD_SIZE, LOCAL_RANK,\n' +
        'LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT) joins that job; rank 0 alone writes and prints.',
    )
    .action(async (opts: TrainCliOptions, command: Command) => {
      const { launchWorkers, watchLauncher } = await import('../../train/distributed/launcher.js');
      if (opts.nprocPerNode !== undefined || opts.nnodes !== undefined) {
        process.exitCode = await launchWorkers({
          nprocPerNode: opts.nprocPerNode ?? 1,
          nnodes: opts.nnodes ?? 1,
          nodeRank: opts.nodeRank ?? 0,
          masterAddr: opts.masterAddr ?? process.env.MASTER_ADDR ?? DEFAULT_MASTER_ADDR,
          masterPort: opts.masterPort ?? (process.env.MASTER_PORT ? Number(process.env.MASTER_PORT) : DEFAULT_MASTER_PORT),
          args: workerArgs((command.parent as (Command & { rawArgs?: string[] }) | null)?.rawArgs ?? process.argv.slice(2)),
        });
        return;
      }
      if (opts.nodeRank !== undefined || opts.masterAddr !== undefined || opts.masterPort !== undefined) {
        throw new LaxrayError('INVALID_ARGUMENT', '--node-rank, --master-addr and --master-port belong to a launch: add --nproc-per-node (and --nnodes for several machines)');
      }
      watchLauncher();
      // The device decides the backend and GPU before the config is read: workers take it from --device / LAXRAY_DEVICE.
      const deviceHint = opts.device ?? process.env.LAXRAY_DEVICE ?? 'cpu';
      const settings = resolveDistributed(
        { ...(opts.distBackend !== undefined ? { backend: opts.distBackend } : {}), ...(opts.distTimeout !== undefined ? { timeoutMs: Math.round(opts.distTimeout * 1000) } : {}) },
        deviceHint,
      );
      const m = await trainingModules();
      if (settings === null) {
        await trainOneProcess(opts, null, m);
        return;
      }
      const group = await m.ProcessGroup.create(settings, workerDevice(deviceHint, settings));
      try {
        await trainOneProcess(opts, group, m);
      } catch (err) {
        // A failed worker leaves at once (draining a broken c10d group could take the whole timeout),
        // after leaving its error where the other ranks' messages will quote it.
        const message = err instanceof Error ? err.message : String(err);
        await group.reportFailure(message);
        process.stderr.write(`laxray: rank ${settings.rank}: ${message}\n`);
        process.exit(1);
      }
      await group.close();
    });
}

/** What rank 0 decides for the whole job: the config and the run directory. */
interface RunChoice {
  config: LaxrayConfig;
  runDir: string;
}

/** The run this command describes (config file / preset / flags, or the run directory's own config with --resume). */
function chooseRun(opts: TrainCliOptions, m: TrainingModules): RunChoice {
  const { deepMerge, overrideFromAssignment, readRunConfig, resolveConfig, RUN_FILES } = m;
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

  if (opts.resume) {
    if (opts.runDir === undefined) throw new LaxrayError('INVALID_ARGUMENT', '--resume needs --run-dir <dir>: the run to continue');
    if (opts.config !== undefined || opts.preset !== undefined) {
      throw new LaxrayError(
        'INVALID_ARGUMENT',
        `--resume continues with the run's own config (${path.join(opts.runDir, RUN_FILES.config)}); drop --config/--preset (use --set key=value to change a field)`,
      );
    }
    return { runDir: opts.runDir, config: readRunConfig(opts.runDir, overrides) };
  }
  if (opts.preset !== undefined && !(PRESET_NAMES as readonly string[]).includes(opts.preset)) {
    throw new LaxrayError('INVALID_ARGUMENT', `--preset ${opts.preset}: unknown preset; choose one of ${PRESET_NAMES.join(', ')}`);
  }
  if (opts.config !== undefined && !existsSync(opts.config)) {
    throw new LaxrayError('INVALID_ARGUMENT', `--config ${opts.config}: no such file`);
  }
  const presetOverride: LaxrayConfigInput = opts.preset !== undefined ? { preset: opts.preset as LaxrayConfig['preset'] } : {};
  const config = resolveConfig(opts.config ?? {}, deepMerge(presetOverride as JsonObject, overrides as JsonObject) as LaxrayConfigInput);
  return { config, runDir: opts.runDir ?? defaultRunDir(config) };
}

/**
 * Every rank trains rank 0's run: with --resume the others adopt it (their
 * machine may not hold the run directory); otherwise their own must agree.
 */
async function agreeOnRun(opts: TrainCliOptions, group: ProcessGroup, m: TrainingModules): Promise<RunChoice> {
  const rank0 = await group.decide(() => chooseRun(opts, m));
  if (group.rank === 0 || opts.resume) return rank0;
  const mine = chooseRun(opts, m);
  for (const key of ['model', 'train', 'classes', 'preset'] as const) {
    if (JSON.stringify(mine.config[key]) !== JSON.stringify(rank0.config[key])) {
      throw new LaxrayError('INVALID_CONFIG', `rank ${group.rank}'s config differs from rank 0's in "${key}": start every rank with the same command line and config file`);
    }
  }
  return rank0;
}

async function trainOneProcess(opts: TrainCliOptions, group: ProcessGroup | null, m: TrainingModules): Promise<void> {
  const { createProgressPrinter, Detector, loadConfigDatasets, resolveConfig, setThreads, Trainer } = m;
  let { config, runDir } = group === null ? chooseRun(opts, m) : await agreeOnRun(opts, group, m);
  if (group !== null) {
    if (config.device.startsWith('cuda') !== group.device.startsWith('cuda')) {
      throw new LaxrayError('INVALID_CONFIG', `the config trains on ${config.device} but this worker joined the job on ${group.device}: give workers the device with --device (or LAXRAY_DEVICE)`);
    }
    config = resolveConfig(config, { device: group.device as LaxrayConfig['device'] }); // one GPU per local rank
  }
  const { train, val } = await loadConfigDatasets(config);
  if (config.classes === null) {
    config = resolveConfig(config, { classes: train.categories.map((c) => c.name), model: { head: { numClasses: train.numClasses } } });
  }
  if (config.threads > 0) setThreads(config.threads);
  const detector = await Detector.create(config);
  const controller = new AbortController();
  const speaks = group === null || group.rank === 0; // one voice: rank 0 prints
  const printer = createProgressPrinter({ json: speaks && opts.json === true, progress: speaks && opts.progress });
  const onSigint = (): void => {
    printer.log('laxray: stopping after the current step (writing a checkpoint); press Ctrl-C again to quit at once');
    controller.abort();
    process.once('SIGINT', () => process.exit(130));
  };
  process.once('SIGINT', onSigint);
  const trainer = new Trainer({
    detector,
    config,
    train,
    val,
    runDir,
    resume: opts.resume === true,
    signal: controller.signal,
    distributed: group,
    ...(opts.maxIters !== undefined ? { maxIterations: opts.maxIters } : {}),
  });
  trainer.on('event', (e) => printer.onEvent(e));
  let summary: TrainSummary;
  try {
    summary = await trainer.run();
  } finally {
    printer.stop();
    process.removeListener('SIGINT', onSigint);
  }
  if (!opts.json && speaks) printTrainSummary(summary, runDir);
  if (controller.signal.aborted) process.exitCode = 130;
}
