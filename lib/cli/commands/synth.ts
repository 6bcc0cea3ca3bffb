// `laxray synth`: write a synthetic dual-energy baggage dataset (eq.-1 images,
// optional raw 16-bit pairs, COCO JSON per split, challenging-subset ids).
import { InvalidArgumentError, type Command } from 'commander';
import { LaxrayError } from '../../errors.js';
import { fraction, integerIn } from '../options.js';
import type { SynthRecipe } from '../../data/synth/recipe.js';

interface SynthCliOptions {
  out: string;
  count: number;
  seed: number;
  width?: number | [number, number];
  height?: number | [number, number];
  objectsPerImage?: number;
  overlapRate?: number;
  clutter?: number;
  raw?: boolean;
  workers?: number;
  recipe?: string;
  preview?: string;
  json?: boolean;
  progress: boolean;
}

/** "640" or "373-732" → 640 or [373, 732]. */
function sizeOrRange(name: string): (v: string) => number | [number, number] {
  return (v) => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(v.trim());
    const a = m ? Number(m[1]) : NaN;
    const b = m && m[2] !== undefined ? Number(m[2]) : a;
    if (!m || a < 32 || b > 8192 || b < a) throw new InvalidArgumentError(`${name} must be pixels (32..8192) or a range like 373-732, got "${v}"`);
    return a === b ? a : [a, b];
  };
}

/** --recipe: a JSON object of recipe fields (checked field by field when the set is generated). */
async function readRecipeFile(file: string): Promise<Partial<SynthRecipe>> {
  const [{ readJsonFile }, { previewJson }] = await Promise.all([import('../../json_file.js'), import('../../json_preview.js')]);
  const recipe = await readJsonFile(file, { what: 'recipe', code: 'INVALID_ARGUMENT' });
  if (recipe === null || typeof recipe !== 'object' || Array.isArray(recipe)) {
    throw new LaxrayError('INVALID_ARGUMENT', `${file}: a synth recipe is a JSON object of recipe fields (e.g. {"width": 256, "overlapRate": 0.5}), got ${previewJson(recipe)}`);
  }
  return recipe as Partial<SynthRecipe>;
}

export function register(command: Command): void {
  command
    .description(
      'generate a synthetic dual-energy X-ray baggage dataset (Beer–Lambert renders of the 12 CLCXray classes in cluttered bags): ' +
        'eq.-1 PNGs, COCO JSON per split with per-object overlap and background similarity, challenging-subset ids',
    )
    .requiredOption('-o, --out <dir>', 'output folder')
    .requiredOption('-n, --count <n>', 'number of images', integerIn('--count', 1, 10_000_000))
    .option('--seed <s>', 'random seed (same seed → byte-identical dataset)', integerIn('--seed', 0, 0xffffffff), 0)
    .option('--width <px>', 'image width, or a range min-max (default: 373-732, as CLCXray)', sizeOrRange('--width'))
    .option('--height <px>', 'image height, or a range min-max (default: 200-1280, as CLCXray)', sizeOrRange('--height'))
    .option('--objects-per-image <n>', 'labelled objects in every image (default: CLCXray-like mix, mean 2.15, 60% with ≥ 2)', integerIn('--objects-per-image', 0, 50))
    .option('--overlap-rate <p>', 'probability that an object is placed over an earlier one (default 0.35)', fraction('--overlap-rate'))
    .option('--clutter <x>', 'multiplier on the amount of clutter (default 1)', fraction('--clutter', 10))
    .option('--raw', 'also write the 16-bit high/low energy pairs under raw/')
    .option('--workers <n>', 'worker threads (default: cores, at most 8)', integerIn('--workers', 1, 256))
    .option('--recipe <file>', 'JSON file of recipe overrides (fields of SynthRecipe); flags win over it')
    .option('--preview <png>', 'also write a contact sheet of the first images (pseudo-colour with boxes, and eq.-1 inputs) to this PNG')
    .option('--no-progress', 'no progress bar on stderr')
    .option('--json', 'print the result as one JSON object on stdout')
    .action(async (options: SynthCliOptions) => {
      // loaded here, so `laxray --help` starts fast
      const [{ default: cliProgress }, { generateDataset }, { resolveRecipe }] = await Promise.all([
        import('cli-progress'),
        import('../../data/synth/generate.js'),
        import('../../data/synth/recipe.js'),
      ]);
      const recipe: Partial<SynthRecipe> = options.recipe === undefined ? {} : await readRecipeFile(options.recipe);
      if (options.width !== undefined) recipe.width = options.width;
      if (options.height !== undefined) recipe.height = options.height;
      if (options.objectsPerImage !== undefined) recipe.objectsPerImage = options.objectsPerImage;
      if (options.overlapRate !== undefined) recipe.overlapRate = options.overlapRate;
      if (options.clutter !== undefined) recipe.clutter = options.clutter;

      const bar =
        options.progress && process.stderr.isTTY
          ? new cliProgress.SingleBar({ stream: process.stderr, format: 'synth |{bar}| {value}/{total} images  {rate} img/s  eta {eta_formatted}', hideCursor: true }, cliProgress.Presets.shades_classic)
          : undefined;
      const started = performance.now();
      bar?.start(options.count, 0, { rate: '0' });
      let result;
      try {
        result = await generateDataset({
          outDir: options.out,
          count: options.count,
          seed: options.seed,
          recipe,
          raw: options.raw ?? false,
          ...(options.workers !== undefined ? { workers: options.workers } : {}),
          onProgress: (done) => bar?.update(done, { rate: (done / ((performance.now() - started) / 1000)).toFixed(1) }),
        });
      } finally {
        bar?.stop();
      }
      if (options.preview !== undefined) {
        const { writeContactSheet } = await import('../../data/synth/contact_sheet.js');
        await writeContactSheet(options.preview, { seed: options.seed, recipe: resolveRecipe(recipe) });
      }
      if (options.json) {
        process.stdout.write(JSON.stringify(options.preview !== undefined ? { ...result, preview: options.preview } : result) + '\n');
        return;
      }
      const s = result.stats;
      const classes = Object.entries(s.perClass)
        .map(([c, n]) => `${c} ${n}`)
        .join(', ');
      process.stdout.write(
        [
          `wrote ${s.images} images to ${result.outDir} in ${result.seconds.toFixed(1)} s (${(s.images / result.seconds).toFixed(1)} images/s)`,
          `splits: train ${s.splits.train}, val ${s.splits.val}, test ${s.splits.test} → train.json val.json test.json (all.json: every image)`,
          `objects: ${s.objects} (${s.objectsPerImage} per image, ${s.imagesWithAtLeastTwoObjects} images with ≥ 2); ${classes}`,
          `overlap: ${s.overlappedObjects} objects overlap another, mean overlap ${s.meanOverlap}`,
          `challenging images: train ${s.challenging.train}, val ${s.challenging.val}, test ${s.challenging.test} → challenging.json, test_challenging_ids.json`,
          ...(options.preview !== undefined ? [`contact sheet: ${options.preview}`] : []),
        ].join('\n') + '\n',
      );
    });
}
