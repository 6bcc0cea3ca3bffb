// `laxray detect`: run a trained detector on images; JSON detections and
// annotated PNGs (class colours, scores).
import { existsSync, promises as fs, statSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { LaxrayError } from '../../errors.js';
import type { Detection, Detector } from '../../detector.js';
import { deviceOption, fraction, positiveInteger } from '../options.js';

interface DetectCliOptions {
  run?: string;
  out?: string;
  device?: string;
  scoreThreshold?: number;
  drawThreshold: number;
  batchSize: number;
  maxInputPixels?: number;
  json?: boolean;
}

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp', '.webp']);

/** Files given directly, and the images (by extension) of folders given, in a stable order. */
export async function expandImages(inputs: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const input of inputs) {
    if (!existsSync(input)) throw new LaxrayError('INVALID_ARGUMENT', `image ${input}: no such file or folder`);
    if (statSync(input).isDirectory()) {
      const names = (await fs.readdir(input)).filter((n) => IMAGE_EXTENSIONS.has(path.extname(n).toLowerCase())).sort();
      if (names.length === 0) throw new LaxrayError('INVALID_ARGUMENT', `folder ${input} holds no images (${[...IMAGE_EXTENSIONS].join(', ')})`);
      files.push(...names.map((n) => path.join(input, n)));
    } else {
      files.push(input);
    }
  }
  return files;
}

/** Output names for the annotated images: the input's base name, made unique. */
function outputNames(files: readonly string[]): string[] {
  const used = new Map<string, number>();
  return files.map((f) => {
    const base = path.basename(f, path.extname(f));
    const n = used.get(base) ?? 0;
    used.set(base, n + 1);
    return n === 0 ? `${base}.png` : `${base}_${n}.png`;
  });
}

export interface ImageDetections {
  file: string;
  width: number;
  height: number;
  detections: Detection[];
  annotated?: string;
}

/** An input that could not be read as an image; `index` is its place in the expanded input list. */
export interface FailedImage {
  index: number;
  file: string;
  error: string;
}

type ChunkResult = { index: number; entry: ImageDetections } | FailedImage;

/** Errors that belong to one input image (the run goes on without it); anything else ends the command. */
function isImageError(err: unknown): err is LaxrayError {
  return err instanceof LaxrayError && (err.code === 'INVALID_IMAGE' || err.code === 'INVALID_ARGUMENT');
}

/**
 * Detections for files[first..] as one batch; when an image in it is bad,
 * each file on its own, so the good ones still get detections and each bad
 * one is reported with its own index in the whole input list.
 */
async function detectChunk(detector: Detector, chunk: readonly string[], first: number): Promise<ChunkResult[]> {
  try {
    const detections = await detector.detect(chunk);
    return await Promise.all(chunk.map(async (file, j) => ({ index: first + j, entry: await describeImage(file, detections[j]!) })));
  } catch (err) {
    if (!isImageError(err) || chunk.length === 1) {
      if (!isImageError(err)) throw err;
      // the message names "input 0" (its place in a batch of one); the caller reports the real index
      return [{ index: first, file: chunk[0]!, error: err.message.replace(/^input 0 \((.*?)\): /, '') }];
    }
    const out: ChunkResult[] = [];
    for (let j = 0; j < chunk.length; j++) out.push(...(await detectChunk(detector, [chunk[j]!], first + j)));
    return out;
  }
}

async function describeImage(file: string, detections: Detection[]): Promise<ImageDetections> {
  const { default: sharp } = await import('sharp');
  const meta = await sharp(file).metadata();
  return { file, width: meta.width ?? 0, height: meta.height ?? 0, detections };
}

export function register(command: Command): void {
  command
    .description('detect threat objects in images with a trained run: JSON detections (original image pixels) and annotated PNGs')
    .argument('<images...>', 'image files (PNG, JPEG, TIFF, ...) or folders of images')
    .option('--run <dir|weights>', 'a run directory (from laxray train / demo) or a .safetensors weights file saved by laxray')
    .option('-o, --out <dir>', 'write detections.json and one annotated PNG per image here')
    .option('--device <device>', 'cpu, cuda or cuda:<index>', deviceOption)
    .option('--score-threshold <p>', "keep detections scoring at least this (default: the model's test.scoreThreshold, 0.05)", fraction('--score-threshold'))
    .option('--draw-threshold <p>', 'draw boxes scoring at least this on the annotated images', fraction('--draw-threshold'), 0.3)
    .option('--batch-size <n>', 'images per forward pass', positiveInteger('--batch-size'), 4)
    .option('--max-input-pixels <n>', 'allow network inputs up to this many pixels per image (default 4096 × 4096; never taken from the weights file)', positiveInteger('--max-input-pixels'))
    .option('--json', 'print the detections as one JSON object on stdout (nothing else)')
    .addHelpText('after', '\nExamples:\n  laxray detect --run runs/demo/run scans/*.png --out detections\n  laxray detect --run runs/demo/run scans/ --json > detections.json')
    .action(async (inputs: string[], opts: DetectCliOptions) => {
      if (opts.run === undefined) throw new LaxrayError('INVALID_ARGUMENT', 'laxray detect needs --run <dir|weights>: a run directory from laxray train (or laxray demo) or a weights file');
      const files = await expandImages(inputs);
      const overrides = {
        ...(opts.device !== undefined ? { device: opts.device as 'cpu' } : {}),
        ...(opts.scoreThreshold !== undefined ? { model: { test: { scoreThreshold: opts.scoreThreshold } } } : {}),
        ...(opts.maxInputPixels !== undefined ? { data: { maxInputPixels: opts.maxInputPixels } } : {}),
      };
      // loaded here, so `laxray --help` starts fast
      const [{ Detector }, { annotateImage }, { writeFileAtomic }] = await Promise.all([
        import('../../detector.js'),
        import('../../report/index.js'),
        import('../../atomic_file.js'),
      ]);
      const detector = await Detector.load(opts.run, overrides);
      const started = performance.now();
      const results: ImageDetections[] = [];
      const failed: FailedImage[] = [];
      const names = outputNames(files);
      if (opts.out !== undefined) await fs.mkdir(opts.out, { recursive: true });
      for (let i = 0; i < files.length; i += opts.batchSize) {
        const chunk = files.slice(i, i + opts.batchSize);
        for (const done of await detectChunk(detector, chunk, i)) {
          if ('error' in done) {
            failed.push(done);
            process.stderr.write(`laxray: image ${done.index} (${done.file}): ${done.error}; skipped\n`);
            continue;
          }
          const entry: ImageDetections = done.entry;
          if (opts.out !== undefined) {
            entry.annotated = path.join(opts.out, names[done.index]!);
            await writeFileAtomic(entry.annotated, await annotateImage(entry.file, entry.detections, { scoreThreshold: opts.drawThreshold }));
          }
          results.push(entry);
        }
      }
      if (failed.length > 0) process.exitCode = 1;
      const seconds = (performance.now() - started) / 1000;
      const output = { run: opts.run, device: detector.device, classes: detector.config.classes, images: results, failed, seconds };
      if (opts.out !== undefined) await writeFileAtomic(path.join(opts.out, 'detections.json'), JSON.stringify(output, null, 1) + '\n');
      if (opts.json) {
        process.stdout.write(JSON.stringify(output) + '\n');
        return;
      }
      const lines = results.map((r) => {
        const shown = r.detections.filter((d) => d.score >= opts.drawThreshold);
        const what = shown.map((d) => `${d.category} ${d.score.toFixed(2)}`).join(', ');
        return `${r.file}: ${shown.length} object(s) ≥ ${opts.drawThreshold}${what ? `: ${what}` : ''}${r.annotated ? ` → ${r.annotated}` : ''}`;
      });
      lines.push(
        `${results.length} image(s) in ${seconds.toFixed(2)} s${failed.length > 0 ? `; ${failed.length} could not be read (listed above and in "failed")` : ''}${opts.out !== undefined ? `; detections.json in ${opts.out}` : ''}`,
      );
      process.stdout.write(lines.join('\n') + '\n');
    });
}
