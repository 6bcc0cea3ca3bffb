// `laxray convert <kind>`: turn other dataset formats into laxray's inputs.
// Each kind is one subcommand registered by one function in SUBCOMMANDS below;
// adding a kind (e.g. `convert dual-energy`) is one more function and entry.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { LaxrayError } from '../../errors.js';
import { OPIXRAY_CLASSES, writeOpixrayCoco } from '../../data/opixray.js';
import type { BoxPolicy } from '../../data/coco.js';

export function register(program: Command): void {
  const convert = program
    .command('convert')
    .description('convert datasets into what laxray reads (COCO JSON, 3-channel images)');
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
