// `laxray demo` (`npm run demo`): the first thing a newcomer runs. Generates a
// small synthetic dual-energy baggage dataset, trains ATSS + LAcls with a
// ResNet-18 at a small image scale on the CPU for a few minutes, evaluates on
// the held-out test split (and its challenging subset) and writes annotated
// detections and the training report.
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { LaxrayError } from '../../errors.js';
import type { LaxrayConfig } from '../../config/index.js';
import type { SynthRecipe } from '../../data/synth/index.js';
import type { TrainEvent } from '../../train/index.js';
import { formatDuration } from '../../train/duration.js';
import { deviceOption, integerIn, positiveInteger } from '../options.js';

/** What the demo needs, loaded when it runs (so `laxray --help` starts fast). */
export async function demoModules() {
  const [progressBars, detector, config, data, synth, manifest, atomicFile, report, train, progress] = await Promise.all([
    import('cli-progress'),
    import('../../detector.js'),
    import('../../config/index.js'),
    import('../../data/index.js'),
    import('../../data/synth/index.js'),
    import('../../data/synth/manifest.js'),
    import('../../atomic_file.js'),
    import('../../report/index.js'),
    import('../../train/index.js'),
    import('../../train/progress.js'),
  ]);
  return { cliProgress: progressBars.default, ...detector, ...config, ...data, ...synth, ...manifest, ...atomicFile, ...report, ...train, ...progress };
}
type DemoModules = Awaited<ReturnType<typeof demoModules>>;

interface DemoCliOptions {
  out: string;
  images: number;
  epochs: number;
  seed: number;
  device?: string;
  json?: boolean;
  progress: boolean;
}

/** The demo's synthetic data: CLCXray's class mix and overlap, at a size the small model trains on quickly. */
export const DEMO_RECIPE: Partial<SynthRecipe> = {
  width: [360, 480],
  height: [240, 320],
  aspect: [0.5, 0.9],
  // every class equally often, so each of the 12 has examples to learn from in a few minutes
  classWeights: Array.from({ length: 12 }, () => 1),
  clutter: 0.5,
  // 240 train / 30 val / 230 test of the default 500 images: the training set of a few-minute run,
  // and a test split large enough for figures worth quoting (30 test images misled by several AP points)
  split: [0.48, 0.06, 0.46],
};

/** Images the demo generates by default (see DEMO_RECIPE.split). */
export const DEMO_IMAGES = 500;

/** A few minutes of training give scores of about 0.1-0.3 (cls × quality): boxes from this score are drawn. */
export const DEMO_DRAW_THRESHOLD = 0.15;

/** Input scale [long, short] of the demo model. */
export const DEMO_SCALE: [number, number] = [384, 256];

/** The demo's model and schedule: ATSS + LAcls, ResNet-18, 512×320 inputs, a few epochs on the CPU. */
export function demoConfig(options: { dataDir: string; epochs: number; seed: number; device?: string }, m: DemoModules): LaxrayConfig {
  const { resolveConfig, SYNTH_CATEGORIES } = m;
  const split = (name: string) => ({ annotations: path.join(options.dataDir, `${name}.json`), images: options.dataDir });
  return resolveConfig({
    preset: 'atss-lacls',
    ...(options.device !== undefined ? { device: options.device as 'cpu' } : {}),
    classes: [...SYNTH_CATEGORIES],
    model: {
      backbone: { depth: 18 },
      neck: { outChannels: 128 },
      head: { featChannels: 128, stackedConvs: 2 },
    },
    data: { train: split('train'), val: split('val'), imageScale: DEMO_SCALE },
    train: {
      batchSize: 4,
      baseLr: 0.02,
      baseBatchSize: 4,
      epochs: options.epochs,
      warmupIters: 50,
      lrSteps: [Math.max(1, options.epochs - 1)],
      checkpointEvery: 200,
      validateEvery: Math.max(1, Math.ceil(options.epochs / 3)),
      gradClipNorm: 35,
      seed: options.seed,
    },
  });
}

/** Reuses a synthetic set generated earlier with the same count, seed and recipe (a damaged one is generated again). */
function existingData(dataDir: string, count: number, seed: number, m: DemoModules): boolean {
  try {
    const manifest = m.readSynthManifest(dataDir);
    if (manifest === null || manifest.count !== count || manifest.seed !== seed) return false;
    for (const [k, v] of Object.entries(DEMO_RECIPE)) if (JSON.stringify(manifest.recipe?.[k as keyof SynthRecipe]) !== JSON.stringify(v)) return false;
    return ['train.json', 'val.json', 'test.json'].every((f) => existsSync(path.join(dataDir, f)));
  } catch {
    return false;
  }
}

export function register(command: Command): void {
  command
    .description('the tour: generate synthetic X-ray scans, train ATSS+LAcls (ResNet-18) on the CPU for a few minutes, evaluate, write annotated detections and a report')
    .option('-o, --out <dir>', 'where data, run and detections go', path.join('runs', 'demo'))
    .option('--images <n>', `synthetic images to generate (48% train, 6% val, 46% test: 240 / 30 / 230 of ${DEMO_IMAGES})`, integerIn('--images', 20, 100_000), DEMO_IMAGES)
    .option('--epochs <n>', 'training epochs', positiveInteger('--epochs'), 6)
    .option('--seed <n>', 'seed of the data and the training', integerIn('--seed', 0, 0xffffffff), 0)
    .option('--device <device>', 'cpu, cuda or cuda:<index> (default: LAXRAY_DEVICE, else cpu)', deviceOption)
    .option('--json', 'print progress events and the final result as JSON lines on stdout')
    .option('--no-progress', 'no progress bars / log lines on stderr')
    .addHelpText('after', '\nAfterwards:\n  laxray detect --run runs/demo/run runs/demo/data/images/000001.png --out detections\n  open runs/demo/run/report/summary.txt, loss.png, map.png and runs/demo/detections/')
    .action(async (opts: DemoCliOptions) => {
      const m = await demoModules();
      const { annotateImage, cliProgress, createProgressPrinter, Detector, evaluateDetector, formatSummary, generateDataset, loadCocoDataset, summarySections, Trainer, writeFileAtomic } = m;
      const started = performance.now();
      const out = path.resolve(opts.out);
      const dataDir = path.join(out, 'data');
      const runDir = path.join(out, 'run');
      const say = (line: string): void => {
        if (opts.json) process.stdout.write(JSON.stringify({ type: 'demo', message: line }) + '\n');
        else process.stderr.write(`demo: ${line}\n`);
      };

      // 1. data
      if (existingData(dataDir, opts.images, opts.seed, m)) {
        say(`using the synthetic scans in ${dataDir}`);
      } else {
        say(`generating ${opts.images} synthetic dual-energy baggage scans in ${dataDir}`);
        const bar = opts.progress && !opts.json && process.stderr.isTTY ? new cliProgress.SingleBar({ stream: process.stderr, format: 'synth |{bar}| {value}/{total} images', hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
        bar?.start(opts.images, 0);
        try {
          await generateDataset({ outDir: dataDir, count: opts.images, seed: opts.seed, recipe: DEMO_RECIPE, onProgress: (done) => bar?.update(done) });
        } finally {
          bar?.stop();
        }
      }
      const dataSeconds = (performance.now() - started) / 1000;

      // 2. train
      const config = demoConfig({ dataDir, epochs: opts.epochs, seed: opts.seed, ...(opts.device !== undefined ? { device: opts.device } : {}) }, m);
      const [train, val, test] = await Promise.all(['train', 'val', 'test'].map((s) => loadCocoDataset(path.join(dataDir, `${s}.json`))));
      await fs.rm(runDir, { recursive: true, force: true });
      const detector = await Detector.create(config);
      say(`training ATSS+LAcls (ResNet-18, ${config.data.imageScale.join('×')}) for ${opts.epochs} epochs on ${config.device}`);
      const printer = createProgressPrinter({ json: opts.json === true, progress: opts.progress, label: 'train' });
      const trainer = new Trainer({ detector, train: train!, val: val!, runDir, reportSamples: 4, drawThreshold: DEMO_DRAW_THRESHOLD });
      trainer.on('event', (e: TrainEvent) => printer.onEvent(e));
      const trainStarted = performance.now();
      let summary;
      try {
        summary = await trainer.run();
      } finally {
        printer.stop();
      }
      const trainSeconds = (performance.now() - trainStarted) / 1000;

      // 3. evaluate on the held-out test split and draw its detections
      say(`evaluating on the ${test!.images.length} test images`);
      const evaluation = await evaluateDetector(detector, test!);
      const detDir = path.join(out, 'detections');
      await fs.rm(detDir, { recursive: true, force: true });
      await fs.mkdir(detDir, { recursive: true });
      for (const image of test!.images.slice(0, 12)) {
        const png = await annotateImage(image.path, evaluation.detections.byImage.get(image.id) ?? [], { scoreThreshold: DEMO_DRAW_THRESHOLD });
        await writeFileAtomic(path.join(detDir, path.basename(image.fileName)), png);
      }
      const seconds = (performance.now() - started) / 1000;
      const result = {
        type: 'demo-result',
        test: { images: evaluation.overall.counts.images, stats: evaluation.overall.stats, mAP50: evaluation.overall.mAP50 },
        challenging: evaluation.challenging ? { images: evaluation.challenging.counts.images, stats: evaluation.challenging.stats, mAP50: evaluation.challenging.mAP50 } : null,
        perClassAP50: evaluation.overall.perClassAP50,
        iterations: summary.iteration,
        seconds: { total: seconds, data: dataSeconds, train: trainSeconds },
        device: detector.device,
        files: { run: runDir, report: path.join(runDir, 'report'), detections: detDir, data: dataDir },
      };
      await writeFileAtomic(path.join(out, 'result.json'), JSON.stringify(result, null, 2) + '\n');
      const text = formatSummary(summarySections({ evaluation, training: { iterations: summary.iteration, epochs: summary.epoch, seconds: trainSeconds, nonFinite: 0 }, setName: 'test' }).slice(1));
      await writeFileAtomic(path.join(out, 'test_summary.txt'), text);
      if (opts.json) {
        process.stdout.write(JSON.stringify(result) + '\n');
        return;
      }
      const p = (v: number | null | undefined) => (v === null || v === undefined || v < 0 ? '-' : (100 * v).toFixed(1));
      process.stdout.write(
        [
          '',
          text.trimEnd(),
          '',
          `test mAP (AP@[.5:.95]) ${p(evaluation.overall.stats.AP)}%, AP50 ${p(evaluation.overall.stats.AP50)}%` +
            (evaluation.challenging ? `; challenging subset AP ${p(evaluation.challenging.stats.AP)}%, AP50 ${p(evaluation.challenging.stats.AP50)}%` : ''),
          `wall time ${formatDuration(seconds)} (data ${formatDuration(dataSeconds)}, training + validation ${formatDuration(trainSeconds)}) on ${detector.device}`,
          `run: ${runDir}   (report: ${path.join(runDir, 'report')})`,
          `annotated test detections: ${detDir}`,
          `next: laxray detect --run ${path.relative(process.cwd(), runDir) || runDir} <image.png> --out detections --draw-threshold ${DEMO_DRAW_THRESHOLD}`,
          '',
        ].join('\n'),
      );
      if (!(evaluation.overall.stats.AP > 0)) throw new LaxrayError('TRAINING_DIVERGED', 'the demo model detects nothing on the test split (AP 0); see the report for its losses');
    });
}
