// Heat-maps as PNG (an SVG grid rasterised by sharp): a matrix of values in
// [0, 1] drawn from white to dark blue, a label per row and column, and the
// text of each cell on it. Used for confusion matrices.
import sharp from 'sharp';
import { LaxrayError } from '../errors.js';
import { textColorOn } from './colors.js';
import { escapeXml, FONT_FAMILY, n, textWidth } from './svg.js';

export interface HeatmapSpec {
  title?: string;
  rowLabels: readonly string[];
  columnLabels: readonly string[];
  /** values[row][column] in [0, 1] (clamped); NaN draws an empty (grey) cell. */
  values: readonly (readonly number[])[];
  /** Text drawn in each cell; default the value as a percentage (none below 0.5%). */
  cellText?: readonly (readonly string[])[];
  xLabel?: string;
  yLabel?: string;
  /** Side of a cell in px (default 44). */
  cellSize?: number;
}

const AXIS = '#333333';
const EMPTY = '#eeeeee';
const LOW: [number, number, number] = [255, 255, 255];
const HIGH: [number, number, number] = [8, 48, 107];

/** The colour of value v ∈ [0, 1]: linear from white to dark blue. */
export function heatColor(v: number): string {
  if (!Number.isFinite(v)) return EMPTY;
  const t = Math.min(1, Math.max(0, v));
  const c = LOW.map((lo, i) => Math.round(lo + t * (HIGH[i]! - lo)));
  return `#${c.map((x) => x.toString(16).padStart(2, '0')).join('')}`;
}

/** The heat-map as an SVG document. */
export function renderHeatmapSvg(spec: HeatmapSpec): string {
  const rows = spec.rowLabels.length;
  const cols = spec.columnLabels.length;
  if (rows === 0 || cols === 0) throw new LaxrayError('INVALID_ARGUMENT', 'a heat-map needs at least one row and one column');
  if (spec.values.length !== rows || spec.values.some((r) => r.length !== cols)) {
    throw new LaxrayError('INVALID_ARGUMENT', `heat-map values must be ${rows} rows × ${cols} columns, as the labels`);
  }
  const cell = spec.cellSize ?? 44;
  const labelFont = 13;
  const cellFont = Math.max(9, Math.round(cell * 0.27));
  const rowLabelWidth = Math.max(...spec.rowLabels.map((l) => textWidth(l, labelFont))) + 12;
  // column labels are drawn at −45°: their height is their width / √2
  const colLabelHeight = (Math.max(...spec.columnLabels.map((l) => textWidth(l, labelFont))) + 12) / Math.SQRT2 + labelFont;
  const top = (spec.title ? 44 : 12) + colLabelHeight;
  const left = (spec.yLabel ? 30 : 8) + rowLabelWidth;
  const width = Math.ceil(left + cols * cell + Math.max(24, colLabelHeight * 0.7));
  const height = Math.ceil(top + rows * cell + (spec.xLabel ? 40 : 16));

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT_FAMILY}">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  if (spec.title) out.push(`<text x="${n(width / 2)}" y="28" font-size="17" font-weight="bold" text-anchor="middle" fill="${AXIS}">${escapeXml(spec.title)}</text>`);
  for (let i = 0; i < rows; i++) {
    const y = top + i * cell;
    out.push(`<text x="${n(left - 8)}" y="${n(y + cell / 2 + labelFont * 0.35)}" font-size="${labelFont}" text-anchor="end" fill="${AXIS}">${escapeXml(spec.rowLabels[i]!)}</text>`);
    for (let j = 0; j < cols; j++) {
      const v = spec.values[i]![j]!;
      const fill = heatColor(v);
      const x = left + j * cell;
      out.push(`<rect x="${n(x)}" y="${n(y)}" width="${cell}" height="${cell}" fill="${fill}" stroke="#ffffff" stroke-width="1"/>`);
      const text = spec.cellText?.[i]?.[j] ?? (Number.isFinite(v) && v >= 0.005 ? String(Math.round(v * 100)) : '');
      if (text !== '') {
        out.push(`<text x="${n(x + cell / 2)}" y="${n(y + cell / 2 + cellFont * 0.35)}" font-size="${cellFont}" text-anchor="middle" fill="${textColorOn(fill)}">${escapeXml(text)}</text>`);
      }
    }
  }
  for (let j = 0; j < cols; j++) {
    const x = left + j * cell + cell / 2;
    out.push(`<text transform="translate(${n(x)} ${n(top - 6)}) rotate(-45)" font-size="${labelFont}" text-anchor="start" fill="${AXIS}">${escapeXml(spec.columnLabels[j]!)}</text>`);
  }
  out.push(`<rect x="${n(left)}" y="${n(top)}" width="${cols * cell}" height="${rows * cell}" fill="none" stroke="${AXIS}" stroke-width="1"/>`);
  if (spec.xLabel) out.push(`<text x="${n(left + (cols * cell) / 2)}" y="${n(height - 12)}" font-size="15" text-anchor="middle" fill="${AXIS}">${escapeXml(spec.xLabel)}</text>`);
  if (spec.yLabel) out.push(`<text transform="translate(18 ${n(top + (rows * cell) / 2)}) rotate(-90)" font-size="15" text-anchor="middle" fill="${AXIS}">${escapeXml(spec.yLabel)}</text>`);
  out.push('</svg>');
  return out.join('\n');
}

/** The heat-map as a PNG. */
export async function renderHeatmap(spec: HeatmapSpec): Promise<Buffer> {
  return sharp(Buffer.from(renderHeatmapSvg(spec))).png().toBuffer();
}
