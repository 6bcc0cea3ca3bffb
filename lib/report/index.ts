// Report rendering: line plots (PNG), annotated detection images (PNG) and
// summary tables (text). Pure rendering: numbers come from the trainer and lib/eval.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../atomic_file.js';
import { lossCurvesPlot, metricCurvesPlot, renderLinePlot, type LossCurvePoint, type MetricRecord } from './plot.js';
import { formatSummary, type SummarySection } from './table.js';

export { CLASS_COLORS, SERIES_COLORS, classColor, textColorOn, hexToRgb } from './colors.js';
export {
  renderLinePlot,
  renderLinePlotSvg,
  lossCurvesPlot,
  metricCurvesPlot,
  movingAverage,
  type LinePlotSpec,
  type PlotSeries,
  type LossCurvePoint,
  type LossPlotOptions,
  type MetricRecord,
  type MetricPlotOptions,
} from './plot.js';
export { renderHeatmap, renderHeatmapSvg, heatColor, type HeatmapSpec } from './heatmap.js';
export { annotateImage, detectionsSvg, type AnnotateInput, type AnnotateOptions, type DrawableDetection } from './draw_detections.js';
export { formatTable, formatSummary, type TableRow, type TableOptions, type SummarySection } from './table.js';
export { niceTicks, integerTicks, formatTick, type Ticks } from './ticks.js';

export interface TrainingReport {
  /** Per-iteration losses (loss.png). */
  losses?: readonly LossCurvePoint[];
  /** Per-validation metrics, AP etc. in [0, 1] (map.png). */
  metrics?: readonly MetricRecord[];
  /** Final tables (summary.txt): overall, per class, challenging subset. */
  summary?: readonly SummarySection[];
}

/** Files written by writeTrainingReport, by kind. */
export interface TrainingReportFiles {
  lossPlot?: string;
  metricPlot?: string;
  summary?: string;
}

/**
 * Writes the run directory's report: loss.png, map.png and summary.txt (each only
 * when its data is given and non-empty). Each file is written atomically
 * (writeFileAtomic), so a reader never sees half a file.
 */
export async function writeTrainingReport(dir: string, report: TrainingReport): Promise<TrainingReportFiles> {
  await mkdir(dir, { recursive: true });
  const files: TrainingReportFiles = {};
  if (report.losses?.length) files.lossPlot = await writeAtomic(path.join(dir, 'loss.png'), await renderLinePlot(lossCurvesPlot(report.losses)));
  if (report.metrics?.length) files.metricPlot = await writeAtomic(path.join(dir, 'map.png'), await renderLinePlot(metricCurvesPlot(report.metrics)));
  if (report.summary?.some((s) => s.rows.length > 0)) files.summary = await writeAtomic(path.join(dir, 'summary.txt'), formatSummary(report.summary));
  return files;
}

async function writeAtomic(file: string, data: Buffer | string): Promise<string> {
  await writeFileAtomic(file, data);
  return file;
}
