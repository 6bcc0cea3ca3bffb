// The study's figures, drawn with lib/report: a confusion heat-map per method
// and a grid of per-class precision–recall curves (one line per method).
import sharp from 'sharp';
import { RECALL_THRESHOLDS } from '../eval/index.js';
import { renderHeatmap, renderLinePlot, SERIES_COLORS, type LinePlotSpec } from '../report/index.js';
import type { ConfusionMatrix } from './confusion.js';

/** The confusion matrix as a row-normalised heat-map: each cell is the share of the row's objects (%). */
export async function confusionHeatmap(m: ConfusionMatrix, title: string): Promise<Buffer> {
  const values = m.counts.map((row) => {
    const total = row.reduce((a, b) => a + b, 0);
    return row.map((v) => (total > 0 ? v / total : Number.NaN));
  });
  return renderHeatmap({
    title,
    rowLabels: m.classes.map((c, i) => `${c} (${m.counts[i]!.reduce((a, b) => a + b, 0)})`),
    columnLabels: [...m.classes, 'missed'],
    values,
    xLabel: 'winning detection class (% of the true class\'s objects)',
    yLabel: 'true class (objects)',
  });
}

/** Lays PNG images out in a grid, row by row, on a white canvas (all cells the size of the largest). */
export async function composeGrid(images: readonly Buffer[], columns: number): Promise<Buffer> {
  const metas = await Promise.all(images.map((b) => sharp(b).metadata()));
  const w = Math.max(...metas.map((m) => m.width ?? 0));
  const h = Math.max(...metas.map((m) => m.height ?? 0));
  const rows = Math.ceil(images.length / columns);
  return sharp({ create: { width: w * Math.min(columns, images.length), height: h * rows, channels: 3, background: { r: 255, g: 255, b: 255 } } })
    .composite(images.map((input, i) => ({ input, left: (i % columns) * w, top: Math.floor(i / columns) * h })))
    .png()
    .toBuffer();
}

/**
 * Per-class precision–recall curves at IoU 0.5: one panel per class, one line
 * per method (precision at each recall threshold, averaged over seeds).
 */
export async function precisionRecallGrid(curves: readonly { method: string; precision50: Readonly<Record<string, number[] | null>> }[], classes: readonly string[]): Promise<Buffer> {
  const panels: Buffer[] = [];
  for (const cls of classes) {
    const spec: LinePlotSpec = {
      title: cls,
      xLabel: 'recall',
      yLabel: 'precision',
      width: 480,
      height: 340,
      integerX: false,
      xDomain: [0, 1],
      yDomain: [0, 1],
      series: curves.map((c, i) => ({
        name: c.method,
        color: SERIES_COLORS[i % SERIES_COLORS.length]!,
        // recall thresholds never reached have precision 0 (pycocotools): leave them out
        points: (c.precision50[cls] ?? []).map((p, r) => [RECALL_THRESHOLDS[r]!, p > 0 ? p : Number.NaN] as const),
        strokeWidth: 2,
      })),
    };
    panels.push(await renderLinePlot(spec));
  }
  return composeGrid(panels, 3);
}
