// `laxray convert <kind>`: turn other dataset formats into laxray's inputs.
// Each kind is one subcommand registered by one function in SUBCOMMANDS below;
// adding a kind (e.g. `convert dual-energy`) is one more function and entry.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { LaxrayError } from '../../errors.js';
import { OPIXRAY_CLASSES } from '../../opixray_classes.js';
import type { BoxPolicy } from '../../data/coco.js';

export function register(convert: Command): void {
  convert.description('convert datasets and weights into what laxray reads (COCO JSON, 3-channel images, safetensors) and weights back to PyTorch');
  for (const registerSubcommand of SUBCOMMANDS) registerSubcommand(convert);
}

// --- laxray convert opixray -------------------------------------------------

interface OpixrayCliOptions {
  images?: string;
  annotations?: string;
  root?: string;
  split?: string;
  out: string;
  imageRoot?: string;
  boxPolicy: BoxPolicy;
  lenient?: boolean;
  imageList?: string;
  json?: boolean;
}

function registerOpixray(convert: Command): void {
  convert
    .command('opixray')
    .description(
      `OPIXray text annotations ("<image> <class> x1 y1 x2 y2" per line) → COCO detection JSON.\n` +
        `Classes (category ids 1..5): ${OPIXRAY_CLASSES.join(', ')}. Image sizes are read from the files.`,
    )
    .option('--images <dir>', 'folder of the images, e.g. OPIXray/train/train_image')
    .option('--annotations <dir>', 'folder of the .txt annotations, e.g. OPIXray/train/train_annotation')
    .option('--root <dir>', 'instead of --images/--annotations: the OPIXray folder, with --split (uses <root>/<split>/<split>_image and _annotation)')
    .addOption(new Option('--split <split>', 'with --root: which split').choices(['train', 'test']))
    .requiredOption('-o, --out <file>', 'COCO JSON to write')
    .option('--image-root <dir>', 'folder the COCO file_names are relative to (default: --images)')
    .addOption(new Option('--box-policy <policy>', 'boxes leaving the image or of non-positive size').choices(['clip', 'drop', 'error']).default('clip'))
    .option('--lenient', 'leave out bad lines and unreadable images (listed in the report) instead of failing')
    .option('--image-list <file>', "convert only the images listed in this file, one name or stem per line (e.g. OPIXray's test_knife-1.txt)")
    .option('--json', 'print the report as one JSON object')
    .action(async (options: OpixrayCliOptions) => {
      let { images, annotations } = options;
      if (options.root !== undefined) {
        if (images !== undefined || annotations !== undefined) throw new LaxrayError('INVALID_ARGUMENT', 'give either --root with --split, or --images and --annotations, not both');
        if (options.split === undefined) throw new LaxrayError('INVALID_ARGUMENT', '--root needs --split train or --split test');
        images = path.join(options.root, options.split, `${options.split}_image`);
        annotations = path.join(options.root, options.split, `${options.split}_annotation`);
      }
      if (images === undefined || annotations === undefined) {
        throw new LaxrayError('INVALID_ARGUMENT', 'say where the data is: --images <dir> and --annotations <dir>, or --root <OPIXray dir> --split train|test');
      }
      let imageList: string[] | undefined;
      if (options.imageList !== undefined) {
        try {
          imageList = (await readFile(options.imageList, 'utf8')).split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
        } catch (err) {
          throw new LaxrayError('IO_ERROR', `cannot read the image list ${options.imageList}: ${(err as Error).message}`, { cause: err });
        }
      }
      const { writeOpixrayCoco } = await import('../../data/opixray.js'); // loaded here, so `laxray --help` starts fast
      const { report } = await writeOpixrayCoco({
        imagesDir: images,
        annotationsDir: annotations,
        out: options.out,
        boxPolicy: options.boxPolicy,
        strict: !options.lenient,
        ...(options.imageRoot !== undefined ? { imageRoot: options.imageRoot } : {}),
        ...(imageList !== undefined ? { imageList } : {}),
      });
      if (options.json) {
        process.stdout.write(JSON.stringify({ out: options.out, ...report }) + '\n');
        return;
      }
      const classes = Object.entries(report.perClass)
        .map(([c, n]) => `${c} ${n}`)
        .join(', ');
      const lines = [
        `wrote ${options.out}: ${report.images} images, ${report.annotations} annotations (${classes})`,
        `boxes: ${report.clipped.length} clipped, ${report.dropped.length} dropped (policy ${options.boxPolicy})`,
      ];
      if (report.imagesWithoutAnnotations.length > 0) lines.push(`${report.imagesWithoutAnnotations.length} images have no annotation`);
      if (report.skipped.length > 0) lines.push(`${report.skipped.length} problems skipped (--lenient):`, ...report.skipped.slice(0, 20).map((s) => `  - ${s}`));
      if (report.skipped.length > 20) lines.push(`  ... and ${report.skipped.length - 20} more (see --json)`);
      for (const d of report.dropped.slice(0, 10)) lines.push(`  dropped ${d.where}: ${d.reason}`);
      for (const w of report.warnings.slice(0, 10)) lines.push(`  warning: ${w}`);
      process.stdout.write(lines.join('\n') + '\n');
    });
}

/** One entry per `laxray convert <kind>`. */
const SUBCOMMANDS: Array<(convert: Command) => void> = [registerOpixray];

// --- laxray convert dual-energy ---------------------------------------------
// (appended by the dual-energy / synth module; dual_energy.ts is loaded on use)

interface DualEnergyCliOptions {
  high?: string;
  low?: string;
  input?: string;
  out: string;
  highPattern: string;
  lowPattern: string;
  json?: boolean;
}

function registerDualEnergy(convert: Command): void {
  convert
    .command('dual-energy')
    .description(
      'raw dual-energy scans (two 16-bit grey PNG/TIFF images, high and low energy) → 3-channel 8-bit PNG by the paper\'s eq. 1: ' +
        'high/256, low/256, 510·sigmoid(high/low) − 255. One pair (--high, --low, --out file) or a folder of pairs (--input dir, --out dir) matched by name.',
    )
    .option('--high <file>', 'high-energy image of one pair')
    .option('--low <file>', 'low-energy image of one pair')
    .option('-i, --input <dir>', 'folder of pairs (converted to <out>/<name>.png)')
    .requiredOption('-o, --out <path>', 'output PNG (one pair) or folder (--input)')
    .option('--high-pattern <pattern>', 'file stem of high-energy images in --input; {name} is the pair name', '{name}_high')
    .option('--low-pattern <pattern>', 'file stem of low-energy images in --input', '{name}_low')
    .option('--json', 'print the report as one JSON object')
    .action(async (options: DualEnergyCliOptions) => {
      const de = await import('../../data/dual_energy.js');
      const single = options.high !== undefined || options.low !== undefined;
      if (single === (options.input !== undefined) || (single && (options.high === undefined || options.low === undefined))) {
        throw new LaxrayError('INVALID_ARGUMENT', 'give either --high <file> --low <file> (one pair) or --input <dir> (a folder of pairs), with --out');
      }
      if (single) {
        await de.convertDualEnergyPair(options.high as string, options.low as string, options.out);
        if (options.json) process.stdout.write(JSON.stringify({ converted: [{ high: options.high, low: options.low, output: options.out }], unmatched: [], failed: [] }) + '\n');
        else process.stdout.write(`wrote ${options.out}\n`);
        return;
      }
      const { default: cliProgress } = await import('cli-progress');
      const bar = !options.json && process.stderr.isTTY ? new cliProgress.SingleBar({ stream: process.stderr, format: 'dual-energy |{bar}| {value}/{total} pairs' }, cliProgress.Presets.shades_classic) : undefined;
      let started = false;
      let report;
      try {
        report = await de.convertDualEnergyFolder(options.input as string, options.out, {
          highPattern: options.highPattern,
          lowPattern: options.lowPattern,
          onProgress: (done, total) => {
            if (!started) bar?.start(total, 0);
            started = true;
            bar?.update(done);
          },
        });
      } finally {
        bar?.stop();
      }
      if (options.json) process.stdout.write(JSON.stringify(report) + '\n');
      else {
        const lines = [`converted ${report.converted.length} pairs into ${options.out}`];
        if (report.unmatched.length > 0) lines.push(`${report.unmatched.length} files not converted:`, ...report.unmatched.slice(0, 20).map((u) => `  - ${u.file}: ${u.reason}`));
        if (report.unmatched.length > 20) lines.push(`  ... and ${report.unmatched.length - 20} more (see --json)`);
        if (report.failed.length > 0) lines.push(`${report.failed.length} pairs failed:`, ...report.failed.slice(0, 20).map((f) => `  - ${f.name}: ${f.error}`));
        process.stdout.write(lines.join('\n') + '\n');
      }
      if (report.failed.length > 0 || report.converted.length === 0) process.exitCode = 1;
    });
}

SUBCOMMANDS.push(registerDualEnergy);

// --- laxray convert weights -------------------------------------------------
// Into laxray: a PyTorch checkpoint (.pth/.pt, zip or legacy) or safetensors,
// with laxray's or mmdetection's names -> safetensors with laxray's names.
// Out of laxray: a run directory or a weights file it saved -> safetensors with
// torchvision's (backbone) or mmdetection's (whole detector) names.

interface WeightsCliOptions {
  map?: string;
  json?: boolean;
}

const IMPORT_MAPS = ['auto', 'laxray', 'mmdet'];
const EXPORT_MAPS = ['laxray', 'torchvision', 'mmdet'];

function registerWeights(convert: Command): void {
  convert
    .command('weights')
    .description(
      'weights between PyTorch and laxray, written as safetensors.\n' +
        'Into laxray: IN is a PyTorch checkpoint (torch.save: .pth/.pt, zip or legacy format; nested {state_dict|model: ...} and "module." prefixes handled) ' +
        'or safetensors; --map auto|laxray|mmdet names its layout (auto tells mmdetection\'s names by themselves). Load the result with Detector.loadWeights.\n' +
        'Out of laxray: IN is a run directory or a weights file saved by laxray; --map torchvision (the backbone as a torchvision ResNet) or mmdet ' +
        '(the detector in mmdetection\'s layout, the authors\' ATSSLAclsHead/ATSSLAregHead) gives the names to write; load it in PyTorch with ' +
        'safetensors.torch.load_file and load_state_dict.',
    )
    .argument('<in>', 'PyTorch checkpoint, safetensors file, or laxray run directory')
    .argument('<out>', 'safetensors file to write (atomically)')
    .option('--map <layout>', `names: into laxray ${IMPORT_MAPS.join('|')} (default auto); out of laxray ${EXPORT_MAPS.join('|')} (default laxray)`)
    .option('--json', 'print the report as one JSON object')
    .action(async (input: string, output: string, options: WeightsCliOptions) => {
      const report = await convertWeights(input, output, options.map);
      if (options.json) {
        process.stdout.write(JSON.stringify(report) + '\n');
        return;
      }
      const lines = [`wrote ${output}: ${report.tensors} tensors (${report.direction === 'export' ? `laxray -> ${report.layout}` : `${report.format}, ${report.layout} names -> laxray`})`];
      for (const note of report.notes) lines.push(`  ${note}`);
      process.stdout.write(lines.join('\n') + '\n');
    });
}

SUBCOMMANDS.push(registerWeights);

interface WeightsReport {
  direction: 'import' | 'export';
  format: string;
  layout: string;
  tensors: number;
  notes: string[];
}

async function convertWeights(input: string, output: string, map: string | undefined): Promise<WeightsReport> {
  const [{ readWeights, sniffWeightsFormat }, { readSafetensors, writeSafetensors }, { exportStateDict }, { resolveModelSource }, { statSync }] = await Promise.all([
    import('../../checkpoint/weights.js'),
    import('../../checkpoint/safetensors.js'),
    import('../../checkpoint/pytorch/export.js'),
    import('../../checkpoint/run_dir.js'),
    import('node:fs'),
  ]);
  let isDirectory = false;
  try {
    isDirectory = statSync(input).isDirectory();
  } catch (err) {
    throw new LaxrayError('IO_ERROR', `cannot read ${input}: ${(err as Error).message}`, { cause: err });
  }
  const fromLaxray = isDirectory || ((await sniffWeightsFormat(input)) === 'safetensors' && (await readSafetensors(input)).metadata.format === 'laxray');
  if (fromLaxray) {
    const layout = map ?? 'laxray';
    if (!EXPORT_MAPS.includes(layout)) throw new LaxrayError('INVALID_ARGUMENT', `--map ${layout}: ${input} holds laxray weights; write them with --map ${EXPORT_MAPS.join(', ')}`);
    const source = await resolveModelSource(input);
    const { tensors } = await readSafetensors(source.weights);
    const out = exportStateDict(tensors, layout as 'laxray' | 'torchvision' | 'mmdet', source.config.model.head);
    await writeSafetensors(output, out, { format: layout === 'laxray' ? 'laxray' : 'pytorch', layout, source: source.weights, ...(layout === 'laxray' ? { config: JSON.stringify(source.config) } : {}) });
    const notes = [`from ${source.weights}`];
    if (layout === 'torchvision') notes.push("the backbone only, as a torchvision ResNet (no fc.*): load_state_dict(..., strict=False) or replace the classifier");
    return { direction: 'export', format: 'safetensors', layout, tensors: Object.keys(out).length, notes };
  }
  const layout = map ?? 'auto';
  if (!IMPORT_MAPS.includes(layout)) throw new LaxrayError('INVALID_ARGUMENT', `--map ${layout}: to bring weights into laxray use --map ${IMPORT_MAPS.join(', ')} (torchvision backbones load as they are with model.backbone.pretrained)`);
  const weights = await readWeights(input, { layout: layout as 'auto' | 'laxray' | 'mmdet' });
  await writeSafetensors(output, weights.tensors, { source: input, layout: weights.layout });
  return { direction: 'import', format: weights.format, layout: weights.layout, tensors: Object.keys(weights.tensors).length, notes: weights.notes };
}
