// Geometric and photometric transforms of the input pipeline, as plain
// functions on typed arrays: keep-ratio resize size, box scaling and flipping,
// normalisation (HWC uint8 -> CHW float32) and padding sizes. The pixel
// resampling itself is done by sharp (see decode_worker.ts); everything here is
// exact arithmetic that tests can check by hand.
import { LaxrayError } from '../errors.js';

/** ImageNet mean / std in RGB order on the 0..255 scale (mmdetection's defaults; the paper's). */
export const DEFAULT_MEAN: readonly [number, number, number] = [123.675, 116.28, 103.53];
export const DEFAULT_STD: readonly [number, number, number] = [58.395, 57.12, 57.375];
/** Resize target (long side, short side) of the paper: 1333 × 800. */
export const DEFAULT_SCALE: readonly [number, number] = [1333, 800];
/** Inputs are padded bottom/right to a multiple of this (the largest FPN stride used by the backbone). */
export const DEFAULT_SIZE_DIVISOR = 32;

export interface ResizeOptions {
  /**
   * Target scale as two numbers. With `keepRatio` (default) the image is scaled
   * by one factor so that its long side is ≤ max(scale) and its short side is
   * ≤ min(scale) (mmdetection's `keep_ratio=True`); otherwise it is resized to
   * exactly width = scale[0], height = scale[1].
   */
  scale?: readonly [number, number];
  keepRatio?: boolean;
}

export interface ResizedSize {
  width: number;
  height: number;
}

/**
 * The output size of the resize step for an image of `width` × `height`.
 * keepRatio: factor = min(maxLong / long, maxShort / short) and each side is
 * round-half-up(side × factor) (mmcv `rescale_size`), never below 1 pixel.
 * The box scale factors are then resized / original per axis (see `scaleFactors`).
 */
export function resizedSize(width: number, height: number, options: ResizeOptions = {}): ResizedSize {
  const scale = options.scale ?? DEFAULT_SCALE;
  checkScale(scale);
  if (!(width > 0 && height > 0)) {
    throw new LaxrayError('INVALID_ARGUMENT', `cannot resize an image of ${width}×${height}: both sides must be positive`);
  }
  if (options.keepRatio === false) return { width: Math.round(scale[0]), height: Math.round(scale[1]) };
  const maxLong = Math.max(scale[0], scale[1]);
  const maxShort = Math.min(scale[0], scale[1]);
  const factor = Math.min(maxLong / Math.max(width, height), maxShort / Math.min(width, height));
  return {
    width: Math.max(1, Math.floor(width * factor + 0.5)),
    height: Math.max(1, Math.floor(height * factor + 0.5)),
  };
}

function checkScale(scale: readonly number[]): void {
  if (scale.length !== 2 || !scale.every((s) => Number.isFinite(s) && s >= 1)) {
    throw new LaxrayError('INVALID_ARGUMENT', `resize scale must be two numbers ≥ 1 such as [1333, 800], got ${JSON.stringify(scale)}`);
  }
}

/** Per-axis scale factors from the actual input and output sizes (what boxes are multiplied by). */
export function scaleFactors(originalWidth: number, originalHeight: number, resizedWidth: number, resizedHeight: number): { scaleX: number; scaleY: number } {
  return { scaleX: resizedWidth / originalWidth, scaleY: resizedHeight / originalHeight };
}

/**
 * Maps boxes (rows of x1, y1, x2, y2 in original pixels) into the network
 * input: scaled by (scaleX, scaleY), then, when `flipWidth` is given,
 * mirrored horizontally in an image of that (resized) width:
 * x1' = W − x2, x2' = W − x1. Results are clipped to [0, W] × [0, H] of the
 * resized image when `clipTo` is given.
 */
export function transformBoxes(
  boxes: ArrayLike<number>,
  scaleX: number,
  scaleY: number,
  flipWidth?: number,
  clipTo?: ResizedSize,
): Float32Array {
  if (boxes.length % 4 !== 0) throw new LaxrayError('INVALID_ARGUMENT', `boxes must hold rows of 4 numbers, got length ${boxes.length}`);
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    let x1 = boxes[i]! * scaleX;
    let x2 = boxes[i + 2]! * scaleX;
    let y1 = boxes[i + 1]! * scaleY;
    let y2 = boxes[i + 3]! * scaleY;
    if (flipWidth !== undefined) {
      const f1 = flipWidth - x2;
      x2 = flipWidth - x1;
      x1 = f1;
    }
    if (clipTo) {
      x1 = Math.min(Math.max(x1, 0), clipTo.width);
      x2 = Math.min(Math.max(x2, 0), clipTo.width);
      y1 = Math.min(Math.max(y1, 0), clipTo.height);
      y2 = Math.min(Math.max(y2, 0), clipTo.height);
    }
    out[i] = x1;
    out[i + 1] = y1;
    out[i + 2] = x2;
    out[i + 3] = y2;
  }
  return out;
}

/**
 * The inverse of the input mapping: boxes predicted in network-input pixels
 * (rows of x1, y1, x2, y2) → original image pixels. Undoes the flip (in the
 * resized width), divides by the scale factors and clips to the original image.
 */
export function boxesToOriginal(
  boxes: ArrayLike<number>,
  meta: { scaleX: number; scaleY: number; flipped: boolean; resizedWidth: number; originalWidth: number; originalHeight: number },
): Float32Array {
  if (boxes.length % 4 !== 0) throw new LaxrayError('INVALID_ARGUMENT', `boxes must hold rows of 4 numbers, got length ${boxes.length}`);
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    let x1 = boxes[i]!;
    let x2 = boxes[i + 2]!;
    if (meta.flipped) {
      const f1 = meta.resizedWidth - x2;
      x2 = meta.resizedWidth - x1;
      x1 = f1;
    }
    out[i] = Math.min(Math.max(x1 / meta.scaleX, 0), meta.originalWidth);
    out[i + 1] = Math.min(Math.max(boxes[i + 1]! / meta.scaleY, 0), meta.originalHeight);
    out[i + 2] = Math.min(Math.max(x2 / meta.scaleX, 0), meta.originalWidth);
    out[i + 3] = Math.min(Math.max(boxes[i + 3]! / meta.scaleY, 0), meta.originalHeight);
  }
  return out;
}

/** Horizontal flip of boxes in an image of width `width`: x1' = W − x2, x2' = W − x1 (mmdetection ≥ 2 convention). */
export function flipBoxes(boxes: ArrayLike<number>, width: number): Float32Array {
  return transformBoxes(boxes, 1, 1, width);
}

/** Smallest multiple of `divisor` that is ≥ `size`. */
export function padTo(size: number, divisor: number = DEFAULT_SIZE_DIVISOR): number {
  if (!(Number.isInteger(divisor) && divisor >= 1)) throw new LaxrayError('INVALID_ARGUMENT', `size divisor must be a positive integer, got ${divisor}`);
  return Math.ceil(size / divisor) * divisor;
}

export interface NormalizeOptions {
  mean?: readonly [number, number, number];
  std?: readonly [number, number, number];
  /** Mirror horizontally while converting (pixel x reads source column W − 1 − x). */
  flip?: boolean;
}

/**
 * A 256-entry lookup table per channel: lut[c * 256 + v] = (v − mean[c]) / std[c],
 * rounded once to float32. Normalising a uint8 image is then one table read per value.
 */
export function normalizationTable(mean: readonly number[] = DEFAULT_MEAN, std: readonly number[] = DEFAULT_STD): Float32Array {
  if (mean.length !== 3 || std.length !== 3 || !std.every((s) => Number.isFinite(s) && s !== 0) || !mean.every(Number.isFinite)) {
    throw new LaxrayError('INVALID_ARGUMENT', `mean and std must be 3 finite numbers each (std non-zero), got mean ${JSON.stringify(mean)} std ${JSON.stringify(std)}`);
  }
  const lut = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v - mean[c]!) / std[c]!;
  return lut;
}

/**
 * Interleaved RGB(A) uint8 pixels (HWC, `channels` 3 or 4; alpha ignored) →
 * planar normalised float32 (CHW): out[c][y][x] = (px[y][x'][c] − mean[c]) / std[c]
 * with x' = x, or W − 1 − x when `flip`.
 * `out` may be given (length ≥ 3·H·W) to write into; it is returned.
 */
export function normalizeToCHW(
  pixels: Uint8Array,
  width: number,
  height: number,
  channels: number,
  options: NormalizeOptions & { lut?: Float32Array } = {},
  out?: Float32Array,
): Float32Array {
  if (channels !== 3 && channels !== 4) throw new LaxrayError('INVALID_ARGUMENT', `normalizeToCHW needs 3 or 4 interleaved channels, got ${channels}`);
  if (pixels.length < width * height * channels) {
    throw new LaxrayError('INVALID_ARGUMENT', `pixel buffer holds ${pixels.length} bytes, ${width}×${height}×${channels} needs ${width * height * channels}`);
  }
  const plane = width * height;
  const dst = out ?? new Float32Array(3 * plane);
  if (dst.length < 3 * plane) throw new LaxrayError('INVALID_ARGUMENT', `output holds ${dst.length} floats, needs ${3 * plane}`);
  const lut = options.lut ?? normalizationTable(options.mean, options.std);
  const flip = options.flip === true;
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let src = row * channels;
    // Walk the source row left to right; write to x or W-1-x.
    let d = flip ? row + width - 1 : row;
    const step = flip ? -1 : 1;
    for (let x = 0; x < width; x++) {
      dst[d] = lut[pixels[src]!]!;
      dst[d + plane] = lut[256 + pixels[src + 1]!]!;
      dst[d + 2 * plane] = lut[512 + pixels[src + 2]!]!;
      src += channels;
      d += step;
    }
  }
  return dst;
}
