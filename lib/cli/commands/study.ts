// `laxray study`: what the label-aware mechanism buys, measured against
// controls. Trains methods × seeds on one synthetic benchmark (resumable),
// evaluates each on the test split (LA models also with LA switched off) and
// writes report.md / report.json / figures. See lib/study.
import path from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { LaxrayError } from '../../errors.js';
import type { ProfileName, StudyEvent, StudyResult } from '../../study/index.js';
import { PROFILE_NAMES } from '../../study/profiles.js';
import { STUDY_METHODS } from '../../study/methods.js';
import type { ProgressPrinter } from '../../train/progress.js';
import { formatDuration } from '../../train/duration.js';
import { deviceOption, list, nonNegativeInteger } from '../options.js';

interface StudyCliOptions {
  profile: string;
  out?: string;
  methods?: string[];
  seeds?: number[];
  device?: string;
  pretrained?: string;
  calibrationSteps?: number;
  dryRun?: boolean;
  reportOnly?: boolean;
  json?: boolean;
  progress: boolean;
}

function seedList(v: string): number[] {
  return list(v).map((s) => {
    const n = Number(s);
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n > 0xffffffff) throw new InvalidArgumentError(`--seeds must be integers in 0..4294967295, got "${s}"`);
    return n;
  });
}

/** One line per study event worth a line (training events go to the progress printer). */
function describe(e: StudyEvent): string | null {
  switch (e.type) {
    case 'plan': {
      const left = e.runs.filter((r) => r.state !== 'done').length;
      return (
        `study ${e.out}: profile ${e.profile}, ${e.methods.length} methods × ${e.seeds.length} seeds = ${e.runs.length} runs (${e.runs.length - left} finished, ${left} to do)\n` +
        `benchmark: ${e.images.train} train / ${e.images.val} val / ${e.images.test} test images; ${e.iterationsPerRun} training iterations per run`
      );
    }
    case 'calibration':
      return `timing ${e.method} (a few training steps and a detection pass)...`;
    case 'estimate': {
      const byRun = e.estimate.runs.map((r) => `${r.method}-seed${r.seed} ${formatDuration(r.seconds)}`).join(', ');
      const paces = e.calibration.timings
        .map((t) => `${t.method} ${t.secondsPerIteration.toFixed(2)} s/it, ${(1000 * t.secondsPerDetectImage).toFixed(0)} ms/test image`)
        .join('; ');
      const busy = e.calibration.load > e.calibration.cpus ? ` (measured with load ${e.calibration.load.toFixed(1)} on ${e.calibration.cpus} CPUs: pessimistic)` : '';
      return `measured: ${paces}\nestimated: ${formatDuration(e.estimate.totalSeconds)} in total${busy} (data ${formatDuration(e.estimate.dataSeconds)}; ${byRun})`;
    }
    case 'data-start':
      return `generating the benchmark: ${e.images} synthetic scans in ${e.dir}`;
    case 'data':
      return `benchmark ${e.generated ? 'generated' : 'reused'}: ${e.stats.splits.train} train / ${e.stats.splits.val} val / ${e.stats.splits.test} test images, ${e.challengingImages} challenging (${formatDuration(e.seconds)})`;
    case 'run-start':
      return `[${e.index}/${e.total}] ${e.name}: ${e.state === 'resume' ? 'resuming training' : e.state === 'evaluate' ? 'evaluating (trained earlier)' : 'training'}`;
    case 'run-evaluate':
      return `${e.name}: evaluating on the test split`;
    case 'run-done':
      return e.skipped ? `${e.name}: finished earlier, skipped` : `${e.name}: done (train ${formatDuration(e.record.trainSeconds)}, eval ${formatDuration(e.record.evalSeconds)})`;
    case 'report-start':
      return `writing the report over ${e.runs} runs (bootstrap included)...`;
    case 'report':
      return `report: ${e.files.markdown}`;
    case 'warning':
      return `warning: ${e.message}`;
    case 'train':
      return null;
  }
}

function summary(result: StudyResult): string {
  if (result.report === null) {
    return result.estimate !== null && result.records.length === 0 ? '' : `stopped; run the same command again to continue (finished runs are kept)\n`;
  }
  return `${result.completed ? 'study complete' : 'study partly done'}: ${result.records.length} runs; report ${result.report.markdown}\n`;
}

export function register(command: Command): void {
  command
    .description('measure what LA buys: train methods × seeds on one synthetic benchmark, evaluate (LA on and off), write a report')
    .option('--profile <name>', `${PROFILE_NAMES.join(', ')}: cpu fits a 2-core machine in ~90 min; gpu is the paper's setting`, 'cpu')
    .option('-o, --out <dir>', 'the study folder (data, runs, report); default runs/study-<profile>')
    .option('--methods <list>', `comma-separated methods (default: the profile's): ${STUDY_METHODS.map((m) => m.name).join(', ')}`, list)
    .option('--seeds <list>', "comma-separated training seeds (default: the profile's, 0,1,2)", seedList)
    .option('--device <device>', 'cpu, cuda or cuda:<index> (default: LAXRAY_DEVICE, else cpu)', deviceOption)
    .option('--pretrained <file>', 'torchvision ResNet weights (.safetensors) for the backbone, as the paper (ImageNet); default: from scratch')
    .option('--calibration-steps <n>', 'training steps timed per method for the estimate printed first (0: no estimate; default 4, or 0 for the gpu profile on a CPU)', nonNegativeInteger('--calibration-steps'))
    .option('--dry-run', 'check the configs, time the methods and print the estimate; train nothing')
    .option('--report-only', 'only write the report from the runs finished so far')
    .option('--json', 'print every event as one JSON object per line on stdout')
    .option('--no-progress', 'no progress bars / log lines on stderr')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  laxray study --profile cpu --out runs/study          # all methods, seeds 0,1,2 (~90 min on 2 cores)\n' +
        '  laxray study --profile cpu --out runs/study --dry-run # the estimate only\n' +
        '  laxray study --profile gpu --device cuda --pretrained resnet50.safetensors --out runs/study-gpu\n' +
        '\nRunning the same command again continues: finished runs are skipped, an interrupted one resumes\n' +
        'from its checkpoint. Ctrl-C stops after the current step with a checkpoint. Each run is an ordinary\n' +
        'run directory (<out>/runs/<method>-seed<k>) for laxray eval / detect.',
    )
    .action(async (opts: StudyCliOptions) => {
      if (!(PROFILE_NAMES as readonly string[]).includes(opts.profile)) {
        throw new LaxrayError('INVALID_ARGUMENT', `--profile ${opts.profile}: unknown profile; choose one of ${PROFILE_NAMES.join(', ')}`);
      }
      if (opts.dryRun && opts.reportOnly) throw new LaxrayError('INVALID_ARGUMENT', '--dry-run and --report-only exclude each other');
      const out = opts.out ?? path.join('runs', `study-${opts.profile}`);
      const say = (line: string) => {
        if (!opts.json && opts.progress) process.stderr.write(`${line}\n`);
      };
      const controller = new AbortController();
      const onSigint = (): void => {
        say('laxray: stopping after the current step (writing a checkpoint); press Ctrl-C again to quit at once');
        controller.abort();
        process.once('SIGINT', () => process.exit(130));
      };
      process.once('SIGINT', onSigint);
      let printer: ProgressPrinter | undefined;
      let result: StudyResult;
      try {
        // loaded here, so `laxray --help` starts fast
        const [{ runStudy }, { createProgressPrinter }] = await Promise.all([import('../../study/index.js'), import('../../train/progress.js')]);
        const it = runStudy({
          out,
          profile: opts.profile as ProfileName,
          ...(opts.methods !== undefined ? { methods: opts.methods } : {}),
          ...(opts.seeds !== undefined ? { seeds: opts.seeds } : {}),
          ...(opts.device !== undefined ? { device: opts.device } : {}),
          ...(opts.pretrained !== undefined ? { pretrained: path.resolve(opts.pretrained) } : {}),
          ...(opts.calibrationSteps !== undefined ? { calibrationSteps: opts.calibrationSteps } : {}),
          dryRun: opts.dryRun === true,
          reportOnly: opts.reportOnly === true,
          signal: controller.signal,
          command: [
            `laxray study --profile ${opts.profile} --out ${out}`,
            ...(opts.methods !== undefined ? [`--methods ${opts.methods.join(',')}`] : []),
            ...(opts.seeds !== undefined ? [`--seeds ${opts.seeds.join(',')}`] : []),
            ...(opts.device !== undefined ? [`--device ${opts.device}`] : []),
            ...(opts.pretrained !== undefined ? [`--pretrained ${opts.pretrained}`] : []),
          ].join(' '),
        });
        for (;;) {
          const next = await it.next();
          if (next.done) {
            result = next.value;
            break;
          }
          const e = next.value;
          if (opts.json) {
            process.stdout.write(JSON.stringify(e) + '\n');
            continue;
          }
          if (e.type === 'run-start') printer = createProgressPrinter({ progress: opts.progress, label: e.name });
          if (e.type === 'train') {
            printer?.onEvent(e.event);
            continue;
          }
          if (e.type === 'run-evaluate' || e.type === 'run-done') {
            printer?.stop();
            printer = undefined;
          }
          const line = describe(e);
          if (line !== null) say(line);
        }
      } finally {
        printer?.stop();
        process.removeListener('SIGINT', onSigint);
      }
      if (opts.json) process.stdout.write(JSON.stringify({ type: 'study-result', out: result.out, completed: result.completed, runs: result.records.length, report: result.report, estimate: result.estimate }) + '\n');
      else process.stdout.write(summary(result));
      if (controller.signal.aborted) process.exitCode = 130;
    });
}
