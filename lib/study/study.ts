// `laxray study`: train a list of methods × seeds on one synthetic benchmark
// and write a report. The study folder:
//
//   <out>/study.json        the plan: profile, benchmark, shared settings (a later
//                           invocation must match it; methods and seeds may grow)
//   <out>/data/             the benchmark (lib/data/synth), generated once
//   <out>/runs/<m>-seed<k>/ one ordinary run directory per method and seed
//   <out>/report/           report.md, report.json, confusion_<m>.png, pr_curves.png
//
// Resumable at every level: finished runs are skipped, an interrupted run
// resumes from its last checkpoint, a trained run without test results is
// evaluated. Progress is data: runStudy() yields StudyEvents.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { LaxrayError } from '../errors.js';
import { readJsonFile } from '../json_file.js';
import { writeFileAtomic } from '../atomic_file.js';
import { effectiveLr, type LaxrayConfig } from '../config/index.js';
import { resolveRecipe, type SynthStats } from '../data/synth/index.js';
import { datasetGroundTruth, readLatestPointer, type TrainEvent } from '../train/index.js';
import { aggregateStudy } from './aggregate.js';
import { ensureBenchmark, existingBenchmark, loadBenchmark, type LoadedBenchmark } from './benchmark.js';
import { calibrate, calibrationDir, estimateStudy, type Calibration, type RunWork, type StudyEstimate } from './estimate.js';
import { REFERENCE_METHODS, studyMethods, type StudyMethod } from './methods.js';
import { runMetrics, type RunMetrics } from './metrics.js';
import { estimateNoise } from './noise.js';
import { studyProfile, type ProfileName, type StudyProfile } from './profiles.js';
import { writeStudyReport, type StudyReportFiles } from './report.js';
import { evaluateRun, readRunRecord, runConfig, runPaths, runState, trainRun, type RunRecord, type RunState } from './run.js';

export interface StudyOptions {
  /** The study folder. */
  out: string;
  /** A profile name or a profile object. Default 'cpu'. */
  profile?: ProfileName | StudyProfile;
  /** Default: the profile's. */
  methods?: readonly string[];
  seeds?: readonly number[];
  device?: string;
  /** A torchvision ResNet state dict (.safetensors) for the backbone (the paper starts from ImageNet weights). */
  pretrained?: string | null;
  signal?: AbortSignal;
  /** Training steps timed per method for the estimate (default 4; 0: no calibration, no estimate). */
  calibrationSteps?: number;
  /** Plan, validate and estimate only: no data, no training. */
  dryRun?: boolean;
  /** Only (re)write the report from the finished runs. */
  reportOnly?: boolean;
  /** Synth worker threads for the benchmark. */
  dataWorkers?: number;
  /** The command line, recorded in the report. */
  command?: string;
}

export interface PlannedRun {
  name: string;
  method: string;
  seed: number;
  state: RunState;
}

export type StudyEvent =
  | { type: 'plan'; out: string; profile: string; methods: string[]; seeds: number[]; runs: PlannedRun[]; images: { train: number; val: number; test: number }; iterationsPerRun: number }
  | { type: 'calibration'; method: string }
  | { type: 'estimate'; estimate: StudyEstimate; calibration: Calibration }
  | { type: 'data-start'; dir: string; images: number }
  | { type: 'data'; dir: string; generated: boolean; stats: SynthStats; challengingImages: number; seconds: number }
  | { type: 'run-start'; name: string; method: string; seed: number; state: RunState; index: number; total: number }
  | { type: 'train'; name: string; event: TrainEvent }
  | { type: 'run-evaluate'; name: string }
  | { type: 'run-done'; name: string; record: RunRecord; skipped: boolean }
  | { type: 'report-start'; runs: number }
  | { type: 'report'; files: StudyReportFiles }
  | { type: 'warning'; message: string };

export interface StudyResult {
  out: string;
  /** Every planned run finished and the report written. */
  completed: boolean;
  records: RunRecord[];
  report: StudyReportFiles | null;
  estimate: StudyEstimate | null;
}

interface StudyPlanFile {
  format: 'laxray-study';
  version: 1;
  profile: string;
  benchmark: StudyProfile['benchmark'];
  config: StudyProfile['config'];
  pretrained: string | null;
}

/** Checks `<out>/study.json` against this invocation (or writes it): a folder holds one benchmark and one training set-up. */
async function checkPlan(out: string, profile: StudyProfile, pretrained: string | null): Promise<void> {
  const file = path.join(out, 'study.json');
  const plan: StudyPlanFile = { format: 'laxray-study', version: 1, profile: profile.name, benchmark: profile.benchmark, config: profile.config, pretrained };
  if (existsSync(file)) {
    // `?? {}`: a file holding `null` is reported as a study of another format, below
    const saved = ((await readJsonFile(file, { what: 'study plan', code: 'IO_ERROR', hint: 'it was not written by laxray study or is damaged' })) ?? {}) as Partial<StudyPlanFile>;
    const differs = (['profile', 'benchmark', 'config', 'pretrained'] as const).filter((k) => JSON.stringify(saved[k]) !== JSON.stringify(plan[k]));
    if (saved.format !== 'laxray-study' || differs.length > 0) {
      throw new LaxrayError(
        'INVALID_ARGUMENT',
        `${out} holds a study with another ${differs.join(', ') || 'format'} (profile '${saved.profile}'); its runs cannot be mixed with this one's: give another --out folder`,
      );
    }
    return;
  }
  await writeFileAtomic(file, JSON.stringify(plan, null, 2) + '\n');
}

function resolveProfile(p: StudyOptions['profile']): StudyProfile {
  return typeof p === 'object' ? p : studyProfile(p ?? 'cpu');
}

function checkSeeds(seeds: readonly number[]): void {
  if (seeds.length === 0) throw new LaxrayError('INVALID_ARGUMENT', 'no seeds given: pass at least one, e.g. 0');
  for (const s of seeds) if (!(Number.isInteger(s) && s >= 0 && s <= 0xffffffff)) throw new LaxrayError('INVALID_ARGUMENT', `seed ${s} must be an integer in 0..4294967295`);
  if (new Set(seeds).size !== seeds.length) throw new LaxrayError('INVALID_ARGUMENT', `seeds ${seeds.join(', ')} repeat a seed`);
}

/** Training iterations of a full run: epochs × batches of the training images that have objects. */
function runIterations(config: LaxrayConfig, trainImages: number): number {
  return config.train.epochs * Math.ceil(trainImages / config.train.batchSize);
}

/** The study as an async iterator of events (see the top of this file). */
export async function* runStudy(options: StudyOptions): AsyncGenerator<StudyEvent, StudyResult, undefined> {
  const out = path.resolve(options.out);
  const profile = resolveProfile(options.profile);
  const methods = studyMethods(options.methods ?? profile.methods);
  const seeds = [...(options.seeds ?? profile.seeds)];
  checkSeeds(seeds);
  const pretrained = options.pretrained ?? null;
  if (pretrained !== null && !existsSync(pretrained)) throw new LaxrayError('INVALID_ARGUMENT', `--pretrained ${pretrained}: no such file; give a torchvision ResNet state dict (.safetensors)`);
  const dataDir = path.join(out, 'data');
  const dataFiles = { train: path.join(dataDir, 'train.json'), val: path.join(dataDir, 'val.json') };
  const device = options.device !== undefined ? { device: options.device } : {};
  // every run's config is built (and validated) before anything starts
  const configs = new Map<string, LaxrayConfig>();
  for (const seed of seeds) for (const method of methods) configs.set(runPaths(out, method.name, seed).name, runConfig({ profile, method, seed, data: dataFiles, ...device, pretrained }));

  await fs.mkdir(out, { recursive: true });
  if (!options.dryRun) await checkPlan(out, profile, pretrained);
  const order: { method: StudyMethod; seed: number }[] = seeds.flatMap((seed) => methods.map((method) => ({ method, seed })));
  const planned: PlannedRun[] = [];
  for (const { method, seed } of order) {
    const paths = runPaths(out, method.name, seed);
    planned.push({ name: paths.name, method: method.name, seed, state: await runState(paths, configs.get(paths.name)!) });
  }
  const split = resolveRecipe(profile.benchmark.recipe).split;
  const train = Math.round(profile.benchmark.count * split[0]);
  const val = Math.min(profile.benchmark.count - train, Math.round(profile.benchmark.count * split[1]));
  const images = { train, val, test: profile.benchmark.count - train - val }; // as lib/data/synth/split.ts cuts them
  const iterationsPerRun = runIterations(configs.values().next().value!, images.train);
  yield { type: 'plan', out, profile: profile.name, methods: methods.map((m) => m.name), seeds, runs: planned, images, iterationsPerRun };

  // estimate: time each method that still has training or evaluation to do
  let estimate: StudyEstimate | null = null;
  const pending = planned.filter((r) => r.state !== 'done');
  const onCpu = configs.values().next().value!.device === 'cpu';
  const steps = options.calibrationSteps ?? (profile.sizedFor === 'cuda' && onCpu ? 0 : 4);
  if (options.calibrationSteps === undefined && steps === 0 && pending.length > 0) {
    yield { type: 'warning', message: `profile ${profile.name} is sized for a GPU and the device is the CPU: not timed (it would take hours); the plan above has the iterations per run. Pass --calibration-steps 1 to time it here anyway` };
  }
  if (!options.reportOnly && steps > 0 && pending.length > 0) {
    const toTime = methods.filter((m) => pending.some((r) => r.method === m.name));
    const timing = calibrate(profile, toTime, { dir: calibrationDir(out), steps, ...device, pretrained });
    let calibration: Calibration;
    for (;;) {
      const next = await timing.next();
      if (next.done) {
        calibration = next.value;
        break;
      }
      yield { type: 'calibration', method: next.value };
    }
    const work: RunWork[] = [];
    for (const r of pending) {
      const config = configs.get(r.name)!;
      const total = runIterations(config, images.train);
      let done = 0;
      if (r.state === 'resume' || r.state === 'evaluate') done = (await readLatestIteration(runPaths(out, r.method, r.seed).dir)) ?? 0;
      const validations = r.state === 'evaluate' ? 0 : Math.ceil(config.train.epochs / config.train.validateEvery);
      work.push({ method: r.method, seed: r.seed, iterations: Math.max(0, total - done), validations, valImages: images.val, testImages: images.test, la: methods.find((m) => m.name === r.method)!.la !== null });
    }
    const toGenerate = existingBenchmark(dataDir, profile.benchmark) === null ? profile.benchmark.count : 0;
    estimate = estimateStudy(work, calibration, toGenerate);
    yield { type: 'estimate', estimate, calibration };
  }
  if (options.dryRun) return { out, completed: false, records: [], report: null, estimate };

  // the benchmark
  if (options.reportOnly && existingBenchmark(dataDir, profile.benchmark) === null) {
    throw new LaxrayError('INVALID_ARGUMENT', `${out} has no benchmark yet (${dataDir}): nothing to report; run the study first`);
  }
  const dataStarted = performance.now();
  if (!options.reportOnly && existingBenchmark(dataDir, profile.benchmark) === null) yield { type: 'data-start', dir: dataDir, images: profile.benchmark.count };
  const data = await ensureBenchmark(dataDir, profile.benchmark, options.dataWorkers !== undefined ? { workers: options.dataWorkers } : {});
  const bench = await loadBenchmark(data);
  yield { type: 'data', dir: dataDir, generated: data.generated, stats: data.stats, challengingImages: bench.challengingIds.length, seconds: (performance.now() - dataStarted) / 1000 };
  const warnings = benchmarkWarnings(profile, bench);
  for (const message of warnings) yield { type: 'warning', message };

  // the runs
  const records: RunRecord[] = [];
  let index = 0;
  for (const { method, seed } of order) {
    index++;
    const paths = runPaths(out, method.name, seed);
    const config = configs.get(paths.name)!;
    const state = await runState(paths, config);
    if (state === 'done') {
      const record = await readRunRecord(paths);
      records.push(record);
      yield { type: 'run-done', name: paths.name, record, skipped: true };
      continue;
    }
    if (options.reportOnly) continue;
    yield { type: 'run-start', name: paths.name, method: method.name, seed, state, index, total: order.length };
    if (state === 'fresh' || state === 'resume') {
      const completed = yield* forward(paths.name, trainRun(paths, config, state, { train: bench.train, val: bench.val, ...(options.signal ? { signal: options.signal } : {}) }));
      if (!completed) return { out, completed: false, records, report: null, estimate };
    }
    if (options.signal?.aborted) return { out, completed: false, records, report: null, estimate };
    yield { type: 'run-evaluate', name: paths.name };
    const record = await evaluateRun(paths, method, seed, bench.test, device);
    records.push(record);
    yield { type: 'run-done', name: paths.name, record, skipped: false };
  }

  // the report, from every finished run of the requested methods and seeds
  if (records.length === 0) {
    yield { type: 'warning', message: 'no finished run to report on' };
    return { out, completed: false, records, report: null, estimate };
  }
  const missing = order.length - records.length;
  if (missing > 0) warnings.push(`${missing} of ${order.length} planned runs are not finished; the report covers the ${records.length} that are`);
  yield { type: 'report-start', runs: records.length };
  const report = await buildReport(out, profile, methods, seeds, bench, data.stats, records, configs, warnings, options.command);
  yield { type: 'report', files: report };
  return { out, completed: missing === 0, records, report, estimate };
}

/** Runs a study to the end; resolves with its result. */
export async function study(options: StudyOptions, onEvent?: (event: StudyEvent) => void): Promise<StudyResult> {
  const it = runStudy(options);
  for (;;) {
    const next = await it.next();
    if (next.done) return next.value;
    onEvent?.(next.value);
  }
}

async function* forward(name: string, events: AsyncGenerator<TrainEvent, boolean, undefined>): AsyncGenerator<StudyEvent, boolean, undefined> {
  for (;;) {
    const next = await events.next();
    if (next.done) return next.value;
    yield { type: 'train', name, event: next.value };
  }
}

/** The iteration of the run's latest checkpoint; null when it has none (or a damaged one: the run itself reports that). */
async function readLatestIteration(runDir: string): Promise<number | null> {
  return readLatestPointer(runDir).then(
    (pointer) => pointer.iteration,
    () => null,
  );
}

function benchmarkWarnings(profile: StudyProfile, bench: LoadedBenchmark): string[] {
  const out: string[] = [];
  if (bench.test.images.length < profile.minTestImages) {
    out.push(`the test split has ${bench.test.images.length} images, fewer than the ${profile.minTestImages} needed to resolve a 1-point AP difference`);
  }
  if (bench.challengingIds.length < profile.minChallengingImages) {
    out.push(`the challenging subset has ${bench.challengingIds.length} images, fewer than ${profile.minChallengingImages}`);
  }
  return out;
}

async function buildReport(
  out: string,
  profile: StudyProfile,
  methods: readonly StudyMethod[],
  seeds: readonly number[],
  bench: LoadedBenchmark,
  stats: SynthStats,
  records: readonly RunRecord[],
  configs: ReadonlyMap<string, LaxrayConfig>,
  warnings: string[],
  command: string | undefined,
): Promise<StudyReportFiles> {
  const groundTruth = datasetGroundTruth(bench.test);
  const runs: RunMetrics[] = [];
  for (const record of records) runs.push(await runMetrics(runPaths(out, record.method, record.seed), record, bench.test, groundTruth, bench.challengingIds));
  const groups = new Map(bench.test.categories.map((c) => [c.name, c.supercategory ?? c.name]));
  const names = methods.map((m) => m.name);
  const aggregate = aggregateStudy(runs, names, REFERENCE_METHODS, groups);
  const reference = names.includes('atss-dist-reg2') ? 'atss-dist-reg2' : names.includes('atss-dist') ? 'atss-dist' : null;
  const pairs = reference === null ? [] : methods.filter((m) => m.la !== null).map((m) => [m.name, reference] as const);
  const noise = estimateNoise(runs, groundTruth, bench.challengingIds, { draws: profile.bootstrapDraws, pairs });
  const first = configs.values().next().value as LaxrayConfig;
  const testObjects = bench.test.images.reduce((a, im) => a + im.annotations.ids.length, 0);
  return writeStudyReport(path.join(out, 'report'), {
    profile,
    methods,
    seeds,
    benchmark: { recipe: resolveRecipe(profile.benchmark.recipe), stats, testImages: bench.test.images.length, challengingImages: bench.challengingIds.length, testObjects },
    runs,
    aggregate,
    noise,
    warnings,
    settings: {
      backbone: `ResNet-${first.model.backbone.depth}${first.model.backbone.pretrained ? ' (pretrained)' : ' (from scratch)'}, FPN ${first.model.neck.outChannels} ch, head ${first.model.head.featChannels} ch × ${first.model.head.stackedConvs} tower conv${first.model.head.stackedConvs === 1 ? '' : 's'}`,
      imageScale: first.data.imageScale,
      epochs: first.train.epochs,
      batchSize: first.train.batchSize,
      lr: effectiveLr(first),
      iterations: Math.max(...records.map((r) => r.iterations)),
      device: records[0]!.device,
    },
    ...(command !== undefined ? { command } : {}),
  });
}
