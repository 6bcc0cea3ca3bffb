// Detections drawn on their image: a box in the class's fixed colour and a
// "category 0.87" tag, as an SVG overlay composited by sharp; output PNG.
//
// Box strokes lie inside the box (the outer edge of the stroke is the box edge),
// so a box never covers pixels outside itself and thin boxes stay crisp.
import sharp, { type OutputInfo, type Sharp } from 'sharp';
import { LaxrayError } from '../errors.js';
import { classColor, textColorOn } from './colors.js';
import { escapeXml, FONT_FAMILY, n, textWidth } from './svg.js';

/** A detection as `detector.detect` returns it: box in image pixels (x1, y1, x2, y2). */
export interface DrawableDetection {
  box: readonly [number, number, number, number] | readonly number[];
  score: number;
  /** Contiguous class label: picks the colour. */
  label: number;
  /** Class name shown in the tag. */
  category: string;
}

/** A file path, encoded image bytes (PNG/JPEG/TIFF/...) or a sharp instance (its queued operations apply). */
export type AnnotateInput = string | Uint8Array | Sharp;

export interface AnnotateOptions {
  /** Only draw detections scoring at least this. Default 0 (all given). */
  scoreThreshold?: number;
  /** Box line width in px. Default: the shorter image side / 300, rounded, at least 2. */
  lineWidth?: number;
  /** Tag font size in px. Default: scales with the image, 12 to 28. */
  fontSize?: number;
  /** Show "0.87" after the category. Default true. */
  showScores?: boolean;
  /** A thin dark line inside each box's coloured line, for contrast on light images. Default true. */
  outline?: boolean;
  /** Colour for a label; default the fixed class palette (classColor). */
  colorOf?: (label: number) => string;
}

/** The image with its detections drawn, as a PNG (RGB, same size as the input). */
export async function annotateImage(image: AnnotateInput, detections: readonly DrawableDetection[], options: AnnotateOptions = {}): Promise<Buffer> {
  let base: Sharp;
  if (typeof image === 'string' || image instanceof Uint8Array) base = sharp(image, { failOn: 'error' });
  else if (isSharp(image)) base = image.clone();
  else throw new LaxrayError('INVALID_ARGUMENT', 'annotateImage: image must be a file path, an encoded image (Buffer) or a sharp instance');

  // Materialise once: gives the true output size (after any operations queued on a
  // sharp instance) and an 8-bit sRGB image to draw on, whatever came in (grey, 16-bit, alpha).
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await base.flatten({ background: '#000000' }).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    const what = typeof image === 'string' ? image : 'the image';
    throw new LaxrayError('INVALID_IMAGE', `annotateImage: cannot decode ${what}: ${(err as Error).message}`, { cause: err });
  }
  const { width, height, channels } = decoded.info;
  const svg = detectionsSvg(width, height, detections, options);
  // Compositing adds an alpha channel; a second pass drops it (the result is opaque).
  const drawn = await sharp(decoded.data, { raw: { width, height, channels } })
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .raw()
    .toBuffer({ resolveWithObject: true });
  return sharp(drawn.data, { raw: { width, height, channels: drawn.info.channels } })
    .removeAlpha()
    .png()
    .toBuffer();
}

/** The overlay alone, as an SVG document the size of the image. */
export function detectionsSvg(width: number, height: number, detections: readonly DrawableDetection[], options: AnnotateOptions = {}): string {
  const short = Math.min(width, height);
  const lineWidth = options.lineWidth ?? Math.max(2, Math.round(short / 300));
  const fontSize = options.fontSize ?? Math.min(28, Math.max(12, Math.round(short / 40)));
  const threshold = options.scoreThreshold ?? 0;
  const colorOf = options.colorOf ?? classColor;
  const showScores = options.showScores ?? true;
  const outline = options.outline ?? true;

  detections.forEach((d, i) => {
    if (d.box.length !== 4 || !d.box.every(Number.isFinite)) {
      throw new LaxrayError('INVALID_ARGUMENT', `detection ${i}: box must be 4 finite numbers [x1, y1, x2, y2], got ${JSON.stringify(d.box)}`);
    }
  });
  // Lowest score first, so the most confident boxes and tags end up on top.
  const shown = detections.filter((d) => d.score >= threshold).sort((a, b) => a.score - b.score);

  const boxes: string[] = [];
  const tags: string[] = [];
  const padX = Math.round(fontSize * 0.35);
  const tagH = Math.round(fontSize * 1.35);
  for (const d of shown) {
    const color = colorOf(d.label);
    // Clip to the image; a box entirely outside is skipped.
    const x1 = clamp(Math.min(d.box[0]!, d.box[2]!), 0, width);
    const y1 = clamp(Math.min(d.box[1]!, d.box[3]!), 0, height);
    const x2 = clamp(Math.max(d.box[0]!, d.box[2]!), 0, width);
    const y2 = clamp(Math.max(d.box[1]!, d.box[3]!), 0, height);
    if (x2 - x1 < 1 || y2 - y1 < 1) continue;
    const lw = Math.min(lineWidth, (x2 - x1) / 2, (y2 - y1) / 2);
    boxes.push(
      `<rect x="${n(x1 + lw / 2)}" y="${n(y1 + lw / 2)}" width="${n(x2 - x1 - lw)}" height="${n(y2 - y1 - lw)}" stroke="${color}" stroke-width="${n(lw)}"/>`,
    );
    // A thin dark line just inside the coloured one keeps light colours visible on light scans.
    if (outline && x2 - x1 > 2 * lw + 4 && y2 - y1 > 2 * lw + 4) {
      boxes.push(`<rect x="${n(x1 + lw + 0.5)}" y="${n(y1 + lw + 0.5)}" width="${n(x2 - x1 - 2 * lw - 1)}" height="${n(y2 - y1 - 2 * lw - 1)}" stroke="#000000" stroke-opacity="0.45" stroke-width="1"/>`);
    }

    const text = showScores ? `${d.category} ${d.score.toFixed(2)}` : d.category;
    const tagW = Math.min(width, Math.ceil(textWidth(text, fontSize)) + 2 * padX);
    // Above the box when there is room, else just inside its top edge.
    const ty = y1 - tagH >= 0 ? y1 - tagH : y1;
    const tx = clamp(x1, 0, Math.max(0, width - tagW));
    tags.push(
      `<rect x="${n(tx)}" y="${n(ty)}" width="${n(tagW)}" height="${tagH}" fill="${color}"/>` +
        `<text x="${n(tx + padX)}" y="${n(ty + tagH / 2 + fontSize * 0.36)}" fill="${textColorOn(color)}">${escapeXml(text)}</text>`,
    );
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<g fill="none" shape-rendering="crispEdges">${boxes.join('')}</g>`,
    `<g font-family="${FONT_FAMILY}" font-size="${fontSize}">${tags.join('')}</g>`,
    '</svg>',
  ].join('\n');
}

function isSharp(v: unknown): v is Sharp {
  return typeof v === 'object' && v !== null && typeof (v as Sharp).clone === 'function' && typeof (v as Sharp).toBuffer === 'function';
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}
