// Line plots as PNG: an SVG with axes, ticks, grid, axis labels and a legend,
// rasterised by sharp (librsvg). Two ready-made plots for the training report:
// loss curves per named loss vs iteration, and mAP vs epoch.
import sharp from 'sharp';
import { LaxrayError } from '../errors.js';
import { SERIES_COLORS } from './colors.js';
import { escapeXml, FONT_FAMILY, n, textWidth } from './svg.js';
import { formatTick, integerTicks, niceTicks, type Ticks } from './ticks.js';

export interface PlotSeries {
  name: string;
  /** [x, y] pairs in drawing order; a non-finite y leaves a gap. */
  points: readonly (readonly [number, number])[];
  /** Default: the next colour of SERIES_COLORS. */
  color?: string;
  /** Draw a dot at each point (for sparse series such as per-epoch mAP). */
  markers?: boolean;
  strokeWidth?: number;
  opacity?: number;
  /** Default true. */
  showInLegend?: boolean;
}

export interface LinePlotSpec {
  title?: string;
  xLabel: string;
  yLabel: string;
  series: readonly PlotSeries[];
  /** Pixels; default 960 × 540. */
  width?: number;
  height?: number;
  /** Fix either end of an axis (the other end follows the data). */
  xDomain?: readonly [number | undefined, number | undefined];
  yDomain?: readonly [number | undefined, number | undefined];
  /** Whole-number ticks on x (iterations, epochs). Default true. */
  integerX?: boolean;
}

const AXIS = '#333333';
const GRID = '#e6e6e6';
const MUTED = '#555555';

/** The plot as an SVG document. */
export function renderLinePlotSvg(spec: LinePlotSpec): string {
  const width = spec.width ?? 960;
  const height = spec.height ?? 540;
  if (!(width >= 200 && height >= 150)) throw new LaxrayError('INVALID_ARGUMENT', `plot size must be at least 200 × 150 px, got ${width} × ${height}`);
  const series = spec.series.map((s, i) => ({ ...s, color: s.color ?? SERIES_COLORS[i % SERIES_COLORS.length]! }));

  // Data ranges over finite points (loops, not Math.min(...): histories can be long).
  let [dxMin, dxMax, dyMin, dyMax] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const s of series) {
    for (const [x, y] of s.points) {
      if (Number.isFinite(x) && Number.isFinite(y)) {
        [dxMin, dxMax, dyMin, dyMax] = [Math.min(dxMin, x), Math.max(dxMax, x), Math.min(dyMin, y), Math.max(dyMax, y)];
      }
    }
  }
  const hasData = dxMin <= dxMax;
  const xLo = spec.xDomain?.[0] ?? (hasData ? dxMin : 0);
  const xHi = spec.xDomain?.[1] ?? (hasData ? dxMax : 1);
  const yLo = spec.yDomain?.[0] ?? (hasData ? dyMin : 0);
  // 3% headroom so the highest point does not sit on the top of the frame.
  const yHi = spec.yDomain?.[1] ?? (hasData ? dyMax + 0.03 * (dyMax - Math.min(yLo, dyMin)) : 1);
  const xt: Ticks = (spec.integerX ?? true) ? integerTicks(xLo, Math.max(xHi, xLo + 1), 8) : niceTicks(xLo, xHi, 8);
  const yt: Ticks = niceTicks(yLo, yHi, 6);
  // A fixed domain end is kept exactly (ticks inside it only).
  const xMin = spec.xDomain?.[0] ?? xt.min;
  const xMax = spec.xDomain?.[1] ?? xt.max;
  const yMin = spec.yDomain?.[0] ?? yt.min;
  const yMax = spec.yDomain?.[1] ?? yt.max;
  const xTicks = xt.values.filter((v) => v >= xMin - 1e-9 && v <= xMax + 1e-9);
  const yTicks = yt.values.filter((v) => v >= yMin - 1e-9 && v <= yMax + 1e-9);

  // Layout: title on top, y label + tick labels left, x tick labels + label below, legend right.
  const tickFont = 13;
  const labelFont = 15;
  const titleFont = 18;
  const legendFont = 13;
  const yLabels = yTicks.map((v) => formatTick(v, yt.step));
  const legendItems = series.filter((s) => s.showInLegend ?? true);
  const legendWidth = legendItems.length ? Math.max(...legendItems.map((s) => textWidth(s.name, legendFont))) + 44 : 0;
  const top = spec.title ? 48 : 20;
  const left = 14 + labelFont + 10 + Math.max(...yLabels.map((l) => textWidth(l, tickFont)), 10) + 10;
  const right = legendItems.length ? legendWidth + 28 : 24;
  const bottom = 14 + tickFont + 12 + labelFont + 12;
  const pw = width - left - right;
  const ph = height - top - bottom;
  if (pw < 60 || ph < 60) throw new LaxrayError('INVALID_ARGUMENT', `plot ${width} × ${height} px is too small for its labels and legend`);
  const sx = (x: number) => left + ((x - xMin) / (xMax - xMin || 1)) * pw;
  const sy = (y: number) => top + ph - ((y - yMin) / (yMax - yMin || 1)) * ph;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT_FAMILY}">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  // The clip region is a little larger than the frame so markers and lines on its edge show whole.
  out.push(`<defs><clipPath id="plot-area"><rect x="${n(left - 6)}" y="${n(top - 6)}" width="${n(pw + 12)}" height="${n(ph + 12)}"/></clipPath></defs>`);
  if (spec.title) {
    out.push(`<text x="${n(left + pw / 2)}" y="${n(top / 2 + titleFont / 3 + 4)}" font-size="${titleFont}" font-weight="bold" text-anchor="middle" fill="${AXIS}">${escapeXml(spec.title)}</text>`);
  }

  // Grid and ticks.
  const grid: string[] = [];
  const tickMarks: string[] = [];
  const tickText: string[] = [];
  xTicks.forEach((v) => {
    const x = n(sx(v));
    grid.push(`M${x} ${n(top)}V${n(top + ph)}`);
    tickMarks.push(`M${x} ${n(top + ph)}v5`);
    tickText.push(`<text x="${x}" y="${n(top + ph + 8 + tickFont)}" text-anchor="middle">${escapeXml(formatTick(v, xt.step))}</text>`);
  });
  yTicks.forEach((v, i) => {
    const y = n(sy(v));
    grid.push(`M${n(left)} ${y}H${n(left + pw)}`);
    tickMarks.push(`M${n(left)} ${y}h-5`);
    tickText.push(`<text x="${n(left - 9)}" y="${n(sy(v) + tickFont * 0.35)}" text-anchor="end">${escapeXml(yLabels[i]!)}</text>`);
  });
  out.push(`<path d="${grid.join('')}" stroke="${GRID}" stroke-width="1" fill="none" shape-rendering="crispEdges"/>`);

  // Series, clipped to the plot area; raw/faint ones first so bold lines stay on top.
  const order = series.map((s, i) => i).sort((a, b) => (series[a]!.opacity ?? 1) - (series[b]!.opacity ?? 1));
  out.push('<g clip-path="url(#plot-area)" fill="none" stroke-linejoin="round" stroke-linecap="round">');
  for (const i of order) {
    const s = series[i]!;
    const d = pathData(s.points, sx, sy);
    const opacity = s.opacity ?? 1;
    if (d) out.push(`<path d="${d}" stroke="${s.color}" stroke-width="${s.strokeWidth ?? 2}"${opacity < 1 ? ` stroke-opacity="${opacity}"` : ''}/>`);
    // A point with no neighbour (between gaps) has no segment: draw it as a dot.
    if (!s.markers) {
      s.points.forEach(([x, y], k) => {
        const alone = (j: number) => j < 0 || j >= s.points.length || !Number.isFinite(s.points[j]![1]);
        if (Number.isFinite(x) && Number.isFinite(y) && alone(k - 1) && alone(k + 1)) {
          out.push(`<circle cx="${n(sx(x))}" cy="${n(sy(y))}" r="${n(Math.max(2, (s.strokeWidth ?? 2) * 1.2))}" fill="${s.color}"${opacity < 1 ? ` fill-opacity="${opacity}"` : ''}/>`);
        }
      });
    }
    if (s.markers) {
      for (const [x, y] of s.points) {
        if (Number.isFinite(x) && Number.isFinite(y)) out.push(`<circle cx="${n(sx(x))}" cy="${n(sy(y))}" r="4" fill="${s.color}" stroke="#ffffff" stroke-width="1.5"/>`);
      }
    }
  }
  out.push('</g>');

  // Axes on top of the data.
  out.push(`<path d="M${n(left)} ${n(top)}V${n(top + ph)}H${n(left + pw)}" stroke="${AXIS}" stroke-width="1.2" fill="none" shape-rendering="crispEdges"/>`);
  out.push(`<path d="${tickMarks.join('')}" stroke="${AXIS}" stroke-width="1" shape-rendering="crispEdges"/>`);
  out.push(`<g font-size="${tickFont}" fill="${MUTED}">${tickText.join('')}</g>`);
  out.push(`<text x="${n(left + pw / 2)}" y="${n(height - 14)}" font-size="${labelFont}" text-anchor="middle" fill="${AXIS}">${escapeXml(spec.xLabel)}</text>`);
  out.push(
    `<text transform="translate(${n(14 + labelFont * 0.8)} ${n(top + ph / 2)}) rotate(-90)" font-size="${labelFont}" text-anchor="middle" fill="${AXIS}">${escapeXml(spec.yLabel)}</text>`,
  );
  if (!hasData) {
    out.push(`<text x="${n(left + pw / 2)}" y="${n(top + ph / 2)}" font-size="${labelFont}" text-anchor="middle" fill="${MUTED}">no data yet</text>`);
  }

  // Legend, right of the plot area.
  if (legendItems.length) {
    const lx = left + pw + 20;
    const rowH = legendFont + 10;
    const boxH = legendItems.length * rowH + 12;
    out.push(`<rect x="${n(lx)}" y="${n(top)}" width="${n(legendWidth)}" height="${n(boxH)}" fill="#ffffff" stroke="${GRID}" rx="3"/>`);
    legendItems.forEach((s, i) => {
      const cy = top + 6 + rowH * i + rowH / 2;
      out.push(`<path d="M${n(lx + 10)} ${n(cy)}h20" stroke="${s.color}" stroke-width="3" stroke-linecap="round"/>`);
      if (s.markers) out.push(`<circle cx="${n(lx + 20)}" cy="${n(cy)}" r="4" fill="${s.color}" stroke="#ffffff" stroke-width="1.5"/>`);
      out.push(`<text x="${n(lx + 36)}" y="${n(cy + legendFont * 0.35)}" font-size="${legendFont}" fill="${AXIS}">${escapeXml(s.name)}</text>`);
    });
  }
  out.push('</svg>');
  return out.join('\n');
}

/** The plot as a PNG. */
export async function renderLinePlot(spec: LinePlotSpec): Promise<Buffer> {
  return sharp(Buffer.from(renderLinePlotSvg(spec))).png().toBuffer();
}

/**
 * SVG path data; gaps at non-finite values. Long series are thinned to the first,
 * lowest, highest and last point of each pixel column, which draws the same
 * picture (the envelope of a noisy loss is kept) from a bounded number of points.
 */
function pathData(points: readonly (readonly [number, number])[], sx: (x: number) => number, sy: (y: number) => number): string {
  const parts: string[] = [];
  let pen = false;
  let column = Number.NaN;
  let bucket: [number, number][] = [];
  const flush = () => {
    if (bucket.length === 0) return;
    let keep = bucket;
    if (bucket.length > 4) {
      let [lo, hi] = [0, 0];
      bucket.forEach(([, py], i) => {
        if (py < bucket[lo]![1]) lo = i;
        if (py > bucket[hi]![1]) hi = i;
      });
      const idx = [...new Set([0, Math.min(lo, hi), Math.max(lo, hi), bucket.length - 1])];
      keep = idx.map((i) => bucket[i]!);
    }
    for (const [px, py] of keep) {
      parts.push(`${pen ? 'L' : 'M'}${n(px)} ${n(py)}`);
      pen = true;
    }
    bucket = [];
  };
  for (const [x, y] of points) {
    if (!Number.isFinite(x) || !Number.isFinite(y)) {
      flush();
      pen = false;
      continue;
    }
    const px = sx(x);
    const c = Math.floor(px);
    if (c !== column) {
      flush();
      column = c;
    }
    bucket.push([px, sy(y)]);
  }
  flush();
  return parts.join('');
}

// ---------------------------------------------------------------- report plots

/** One logged training step: the iteration (from 0 or 1) and each named loss. */
export interface LossCurvePoint {
  iteration: number;
  losses: Readonly<Record<string, number>>;
}

export interface LossPlotOptions {
  title?: string;
  width?: number;
  height?: number;
  /**
   * Points averaged (centred) into the bold line, with the raw values drawn faintly
   * behind; 1: no smoothing. Default: 1/50 of the history (odd), none below 100 points.
   */
  smoothingWindow?: number;
}

/** Loss curves, one per named loss, against the iteration. Non-finite losses leave gaps. */
export function lossCurvesPlot(history: readonly LossCurvePoint[], options: LossPlotOptions = {}): LinePlotSpec {
  const names: string[] = [];
  for (const r of history) for (const k of Object.keys(r.losses)) if (!names.includes(k)) names.push(k);
  const window = options.smoothingWindow ?? (history.length >= 100 ? 2 * Math.floor(history.length / 100) + 1 : 1);
  if (!(Number.isInteger(window) && window >= 1)) throw new LaxrayError('INVALID_ARGUMENT', `smoothingWindow must be an integer ≥ 1, got ${window}`);
  const series: PlotSeries[] = [];
  names.forEach((name, i) => {
    const color = SERIES_COLORS[i % SERIES_COLORS.length]!;
    const raw = history.map((r) => [r.iteration, r.losses[name] ?? Number.NaN] as const);
    if (window > 1) {
      series.push({ name: `${name} (raw)`, points: raw, color, strokeWidth: 1, opacity: 0.25, showInLegend: false });
      series.push({ name, points: movingAverage(raw, window), color, strokeWidth: 2.2 });
    } else {
      series.push({ name, points: raw, color, strokeWidth: 2 });
    }
  });
  return {
    title: options.title ?? 'Training losses',
    xLabel: 'iteration',
    yLabel: 'loss',
    series,
    ...(options.width !== undefined ? { width: options.width } : {}),
    ...(options.height !== undefined ? { height: options.height } : {}),
    yDomain: [0, undefined],
  };
}

/**
 * Local linear smoothing: the value at point i is a straight line fitted (least
 * squares) to the `window` points around it, evaluated at i. Inside the series
 * the window is centred and this equals the centred moving average; at the ends
 * the window stays full size and the line extends to the end point, so there is
 * no lag and no noisy tail. Non-finite values are left out of the fits and stay gaps.
 */
export function movingAverage(points: readonly (readonly [number, number])[], window: number): [number, number][] {
  const count = points.length;
  const w = Math.min(window, count);
  const half = Math.floor(w / 2);
  // Prefix sums over finite points of 1, k, k², y, k·y (k: index).
  const [s0, sk, skk, sy, sky] = [0, 1, 2, 3, 4].map(() => new Float64Array(count + 1));
  for (let k = 0; k < count; k++) {
    const y = points[k]![1];
    const ok = Number.isFinite(y) ? 1 : 0;
    s0![k + 1] = s0![k]! + ok;
    sk![k + 1] = sk![k]! + ok * k;
    skk![k + 1] = skk![k]! + ok * k * k;
    sy![k + 1] = sy![k]! + (ok ? y : 0);
    sky![k + 1] = sky![k]! + (ok ? k * y : 0);
  }
  return points.map(([x, y], i) => {
    if (!Number.isFinite(y)) return [x, Number.NaN];
    const a = Math.min(Math.max(0, i - half), count - w);
    const b = a + w;
    const span = (p: Float64Array) => p[b]! - p[a]!;
    const m = span(s0!);
    const meanK = span(sk!) / m;
    const meanY = span(sy!) / m;
    const varK = span(skk!) / m - meanK * meanK;
    const slope = varK > 1e-9 ? (span(sky!) / m - meanK * meanY) / varK : 0;
    return [x, meanY + slope * (i - meanK)];
  });
}

/** One validation run: the epoch (from 1) and its metrics by name (AP, AP50, ... in [0, 1]). */
export interface MetricRecord {
  epoch: number;
  values: Readonly<Record<string, number>>;
}

export interface MetricPlotOptions {
  title?: string;
  width?: number;
  height?: number;
  /** Which metrics to draw; default every one seen. */
  metrics?: readonly string[];
  /** Show values × 100 with a '%' axis. Default true. */
  percent?: boolean;
}

/** mAP (or any metrics) against the epoch, with a dot per validation run. pycocotools' −1 (no ground truth) leaves a gap. */
export function metricCurvesPlot(history: readonly MetricRecord[], options: MetricPlotOptions = {}): LinePlotSpec {
  // By default every metric with at least one value (APs is -1 throughout when no object is small).
  const names = options.metrics ?? [...new Set(history.flatMap((r) => Object.keys(r.values).filter((k) => r.values[k]! >= 0)))];
  const percent = options.percent ?? true;
  const scale = percent ? 100 : 1;
  const series: PlotSeries[] = names.map((name) => ({
    name,
    points: history.map((r) => {
      const v = r.values[name];
      return [r.epoch, v === undefined || v < 0 ? Number.NaN : v * scale] as const;
    }),
    markers: true,
    strokeWidth: 2.2,
  }));
  const epochs = history.map((r) => r.epoch);
  return {
    title: options.title ?? 'Validation mAP',
    xLabel: 'epoch',
    yLabel: percent ? 'AP (%)' : 'AP',
    series,
    ...(options.width !== undefined ? { width: options.width } : {}),
    ...(options.height !== undefined ? { height: options.height } : {}),
    xDomain: [epochs.length ? Math.min(0, ...epochs) : 0, undefined],
    yDomain: [0, undefined],
  };
}
