// `laxray eval`: COCO bbox metrics identical to pycocotools, from a ground-truth
// file and a results file, optionally on a subset of images.
import type { Command } from 'commander';
import { LaxrayError } from '../../errors.js';

interface EvalCliOptions {
  gt?: string;
  detections?: string;
  imageIds?: string;
  json?: boolean;
  honorIgnore?: boolean;
  opixrayMethod?: string;
}

export function register(command: Command): void {
  command
    .description(
      'COCO bbox evaluation with pycocotools\' exact numbers: AP, AP50, AP75, APs/m/l, AR1/10/100, ARs/m/l, per-class AP and OPIXray-style per-class AP50',
    )
    .option('--gt <coco.json>', 'COCO ground-truth file (images, annotations with area/iscrowd, categories)')
    .option('--detections <results.json>', 'COCO results file: [{"image_id", "category_id", "bbox": [x, y, w, h], "score"}, ...]')
    .option('--image-ids <ids.json>', 'evaluate only these images: a JSON array of image ids, {"image_ids": [...]}, or a COCO file of the subset')
    .option('--honor-ignore', 'also ignore ground truth marked "ignore": 1 (pycocotools does not; off by default)')
    .option('--opixray-method <area|11point>', 'AP of the OPIXray-style per-class table: area under the precision envelope (OPIXray\'s code) or VOC2007 11-point', 'area')
    .option('--json', 'print one JSON object (stats by name, per-class tables, counts) and nothing else on stdout')
    .addHelpText(
      'after',
      '\nExamples:\n  laxray eval --gt val.json --detections results.json\n  laxray eval --gt val.json --detections results.json --image-ids challenging.json --json',
    )
    .action(async (opts: EvalCliOptions) => {
      const missing = [!opts.gt && '--gt <coco.json>', !opts.detections && '--detections <results.json>'].filter(Boolean);
      if (missing.length > 0) {
        throw new LaxrayError(
          'INVALID_ARGUMENT',
          `laxray eval needs ${missing.join(' and ')}: the COCO ground truth and the detections (COCO results) to score. See laxray eval --help.`,
        );
      }
      const method = opts.opixrayMethod ?? 'area';
      if (method !== 'area' && method !== '11point') {
        throw new LaxrayError('INVALID_ARGUMENT', `--opixray-method must be "area" or "11point", got "${method}"`);
      }
      const [{ evaluateCocoFiles }, { formatReport, resultToJson }] = await Promise.all([import('../../eval/files.js'), import('../../eval/format_report.js')]);
      const result = await evaluateCocoFiles(opts.gt!, opts.detections!, {
        imageIdsFile: opts.imageIds,
        honorIgnoreFlag: opts.honorIgnore === true,
        opixrayMethod: method,
      });
      for (const w of result.warnings) process.stderr.write(`laxray: warning: ${w}\n`);
      if (opts.json) {
        const out = {
          ...resultToJson(result),
          files: { groundTruth: opts.gt, detections: opts.detections, imageIds: opts.imageIds ?? null },
        };
        process.stdout.write(`${JSON.stringify(out)}\n`);
      } else {
        process.stdout.write(`${formatReport(result)}\n`);
      }
    });
}
