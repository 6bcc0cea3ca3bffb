// Human-readable renderings of an evaluation: pycocotools' 12-line summary,
// the per-class table and the OPIXray-style per-class AP50 table.
import type { CocoEvalResult } from './evaluate.js';
import { STAT_NAMES, STAT_SPECS, type StatName } from './summarize.js';

/** The 12 lines COCOeval.summarize() prints, with the same layout. */
export function formatCocoSummary(result: CocoEvalResult): string {
  const lines: string[] = [];
  for (const name of STAT_NAMES) {
    const spec = STAT_SPECS[name];
    const title = spec.ap ? 'Average Precision' : 'Average Recall';
    const type = spec.ap ? '(AP)' : '(AR)';
    const iou = spec.iouThr === undefined ? '0.50:0.95' : spec.iouThr.toFixed(2);
    const value = result.stats[name];
    lines.push(
      ` ${title.padEnd(18)} ${type} @[ IoU=${iou.padEnd(9)} | area=${spec.area.padStart(6)} | maxDets=${String(spec.maxDets).padStart(3)} ] = ${value.toFixed(3)}`,
    );
  }
  return lines.join('\n');
}

function cell(v: number | null): string {
  return v === null ? '-' : (100 * v).toFixed(1);
}

function renderTable(header: string[], rows: string[][], alignLeft: number): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: string[]): string =>
    r.map((v, c) => (c < alignLeft ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const PER_CLASS_COLUMNS: StatName[] = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR100'];

/** Per-class AP table (percent; "-" where a class has no ground truth in that range). */
export function formatPerClassTable(result: CocoEvalResult): string {
  const header = ['class', 'id', 'gt', 'dets', ...PER_CLASS_COLUMNS];
  const rows = result.perClass.map((c) => [c.name, String(c.id), String(c.numGroundTruth), String(c.numDetections), ...PER_CLASS_COLUMNS.map((n) => cell(c[n]))]);
  rows.push(['all', '', String(result.counts.groundTruth), String(result.counts.detections), ...PER_CLASS_COLUMNS.map((n) => cell(result.stats[n] < 0 ? null : result.stats[n]))]);
  return renderTable(header, rows, 1);
}

/** OPIXray-style table: VOC AP at IoU 0.5 per class and their mean (percent). */
export function formatAP50Table(result: CocoEvalResult): string {
  const header = ['class', 'gt', 'dets', 'AP50'];
  const rows = result.perClassAP50.map((c) => [c.name, String(c.numGroundTruth), String(c.numDetections), cell(c.AP50)]);
  rows.push(['mAP50', '', '', cell(result.mAP50)]);
  return renderTable(header, rows, 1);
}

/** Everything a person wants to read after an evaluation. */
export function formatReport(result: CocoEvalResult): string {
  const scope =
    result.imageIds === null
      ? `${result.counts.images} images`
      : `${result.counts.images} images (subset of the ground truth)`;
  return [
    `COCO bbox evaluation (pycocotools semantics${result.params.honorIgnoreFlag ? ', honouring "ignore" flags' : ''}): ${scope}, ` +
      `${result.counts.categories} categories, ${result.counts.groundTruth} ground-truth boxes` +
      (result.counts.crowd > 0 ? ` (+${result.counts.crowd} crowd)` : '') +
      `, ${result.counts.detections} detections`,
    '',
    formatCocoSummary(result),
    '',
    'Per class (%):',
    formatPerClassTable(result),
    '',
    `Per-class AP at IoU 0.5, OPIXray-style (PASCAL VOC evaluation, ${result.params.opixrayMethod === 'area' ? 'area under the precision envelope' : '11-point'}, all detections, %):`,
    formatAP50Table(result),
  ].join('\n');
}

/** The JSON-friendly part of a result (everything but the raw precision / recall arrays). */
export function resultToJson(result: CocoEvalResult): Record<string, unknown> {
  const { curves: _curves, ...rest } = result;
  return rest;
}
