// Dual-energy pre-processing (paper §III.B, eq. 1).
//
// A raw scan is two 16-bit grey images of the same size: the high-energy and
// the low-energy detector reading (0..65535, bright = more photons = less
// attenuation). The network sees one 3-channel 8-bit image:
//
//   ch0 = floor(high / 256)
//   ch1 = floor(low / 256)
//   ch2 = round(510 · sigmoid(R) − 255),  R = high / low
//
// Rounding: "divide by 256" is integer division (floor, i.e. the top byte), so
// 65535 → 255 and nothing overflows; ch2 is rounded to nearest, halves up
// (floor(x + 0.5)); it lies in [0, 255] since R ≥ 0.
// Low = 0: R is taken as its limit — high > 0 and low = 0 gives R = +∞ and
// ch2 = 255; high = low = 0 (no photon reached either detector) gives R = 0 and
// ch2 = 0. No NaN or Infinity ever reaches the output.
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { LaxrayError } from '../errors.js';
import { imageFileProblem } from './image_files.js';

/** A 16-bit single-channel image, row-major. */
export interface Grey16Image {
  data: Uint16Array;
  width: number;
  height: number;
}

/** An 8-bit 3-channel image, interleaved HWC (RGB order = ch0, ch1, ch2). */
export interface Rgb8Image {
  data: Uint8Array;
  width: number;
  height: number;
}

// ch2 = round(510·σ(R) − 255) = floor(510·σ(R) − 254.5) is a step function of R:
// it is ≥ k exactly when R ≥ T_k = logit((k + 254.5) / 510), k = 1..255. The
// thresholds are computed once; a lookup over R in steps of 1/4096 (at most one
// threshold per step: they are ≥ 1/127.5 apart) gives the value without exp.
const THRESHOLDS = Float64Array.from({ length: 255 }, (_, i) => {
  const p = (i + 1 + 254.5) / 510;
  return Math.log(p / (1 - p));
});
const R_STEPS = 4096;
const R_MAX = 7; // T_255 ≈ 6.93: every R ≥ 7 gives 255
const BIN_BASE = new Uint8Array(R_MAX * R_STEPS);
const BIN_NEXT = new Float64Array(R_MAX * R_STEPS);
{
  let k = 0;
  for (let b = 0; b < BIN_BASE.length; b++) {
    const r0 = b / R_STEPS;
    while (k < 255 && (THRESHOLDS[k] as number) <= r0) k++;
    BIN_BASE[b] = k;
    const next = k < 255 ? (THRESHOLDS[k] as number) : Infinity;
    BIN_NEXT[b] = next < (b + 1) / R_STEPS ? next : Infinity;
  }
}

function channel3OfRatio(r: number): number {
  if (r >= R_MAX) return 255;
  const b = (r * R_STEPS) | 0;
  return (BIN_BASE[b] as number) + (r >= (BIN_NEXT[b] as number) ? 1 : 0);
}

/** Eq. 1 third channel for one pixel pair. */
export function dualEnergyChannel3(high: number, low: number): number {
  if (low <= 0) return high > 0 ? 255 : 0;
  return channel3OfRatio(high / low);
}

/**
 * Eq. 1 on whole images: `high`, `low` are 16-bit readings of equal length
 * (width·height) → interleaved RGB bytes (length 3·width·height). `out` may be
 * passed to reuse a buffer.
 */
export function dualEnergyToRgb(high: Uint16Array, low: Uint16Array, out?: Uint8Array): Uint8Array {
  if (high.length !== low.length) {
    throw new LaxrayError('INVALID_ARGUMENT', `dual-energy pair has ${high.length} high-energy and ${low.length} low-energy pixels; both images must have the same size`);
  }
  const n = high.length;
  const rgb = out ?? new Uint8Array(3 * n);
  if (rgb.length < 3 * n) throw new LaxrayError('INVALID_ARGUMENT', `output buffer holds ${rgb.length} bytes, needs ${3 * n}`);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const h = high[i] as number;
    const l = low[i] as number;
    rgb[j] = h >>> 8;
    rgb[j + 1] = l >>> 8;
    if (l === 0) rgb[j + 2] = h > 0 ? 255 : 0;
    else {
      const r = h / l;
      if (r >= R_MAX) rgb[j + 2] = 255;
      else {
        const b = (r * R_STEPS) | 0;
        rgb[j + 2] = (BIN_BASE[b] as number) + (r >= (BIN_NEXT[b] as number) ? 1 : 0);
      }
    }
  }
  return rgb;
}

/** Reads a 16-bit grey PNG or TIFF. Rejects 8-bit, colour and unreadable files with a message naming the file. */
export async function readGrey16(file: string): Promise<Grey16Image> {
  const problem = await imageFileProblem(file);
  if (problem !== undefined) {
    throw new LaxrayError(problem === 'not found' ? 'IO_ERROR' : 'INVALID_IMAGE', `cannot read ${file} as an image: it ${problem === 'not found' ? 'does not exist' : problem}; give a 16-bit grey PNG or TIFF`);
  }
  let meta: Metadata;
  try {
    meta = await sharp(file).metadata();
  } catch (err) {
    const missing = (err as { message?: string }).message?.includes('missing') || (err as { message?: string }).message?.includes('does not exist');
    throw new LaxrayError(missing ? 'IO_ERROR' : 'INVALID_IMAGE', `cannot read ${file} as an image (${(err as Error).message}); give a 16-bit grey PNG or TIFF`, { cause: err });
  }
  if (meta.depth !== 'ushort') {
    throw new LaxrayError('INVALID_IMAGE', `${file} is ${meta.depth === 'uchar' ? '8-bit' : `of sample type ${meta.depth}`}, not 16-bit; dual-energy input must be the scanner's raw 16-bit grey images (export them as 16-bit PNG or TIFF)`);
  }
  const channels = meta.channels ?? 0;
  const hasAlpha = meta.hasAlpha === true;
  if (channels - (hasAlpha ? 1 : 0) !== 1) {
    throw new LaxrayError('INVALID_IMAGE', `${file} has ${channels} channels; a dual-energy reading must be a single grey channel (one file per energy)`);
  }
  let decoded: { data: Buffer; info: OutputInfo };
  try {
    // the header read fine; the pixel data may still be corrupt or cut short
    decoded = await sharp(file).extractChannel(0).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
  } catch (err) {
    const why = [...new Set((err as Error).message.split('\n').map((l) => l.trim()).filter(Boolean))].join('; ');
    throw new LaxrayError('INVALID_IMAGE', `cannot decode ${file} (corrupt or truncated?): ${why}; give an intact 16-bit grey PNG or TIFF`, { cause: err });
  }
  const { data, info } = decoded;
  const pixels = new Uint16Array(data.buffer, data.byteOffset, data.byteLength >>> 1);
  return { data: new Uint16Array(pixels), width: info.width, height: info.height };
}

/** Writes a 16-bit grey PNG. */
export async function writeGrey16Png(file: string, image: Grey16Image): Promise<void> {
  // A Uint16Array input tells sharp the raw samples are 16-bit.
  await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 1, premultiplied: false } })
    .toColourspace('grey16')
    .png({ compressionLevel: 3 })
    .toFile(file);
}

/** Eq. 1 on a (high, low) file pair. */
export async function dualEnergyPairToRgb(highFile: string, lowFile: string): Promise<Rgb8Image> {
  const [high, low] = await Promise.all([readGrey16(highFile), readGrey16(lowFile)]);
  if (high.width !== low.width || high.height !== low.height) {
    throw new LaxrayError('INVALID_IMAGE', `high-energy image ${highFile} is ${high.width}×${high.height} but low-energy image ${lowFile} is ${low.width}×${low.height}; a pair must come from the same scan`);
  }
  return { data: dualEnergyToRgb(high.data, low.data), width: high.width, height: high.height };
}

export async function writeRgb8Png(file: string, image: Rgb8Image): Promise<void> {
  await sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), { raw: { width: image.width, height: image.height, channels: 3 } })
    .png({ compressionLevel: 6 })
    .toFile(file);
}

/** Converts one pair to an 8-bit RGB PNG. */
export async function convertDualEnergyPair(highFile: string, lowFile: string, outFile: string): Promise<void> {
  const rgb = await dualEnergyPairToRgb(highFile, lowFile);
  try {
    await mkdir(path.dirname(outFile), { recursive: true });
    await writeRgb8Png(outFile, rgb);
  } catch (err) {
    throw new LaxrayError('IO_ERROR', `cannot write ${outFile}: ${(err as Error).message}`, { cause: err });
  }
}

export interface DualEnergyFolderOptions {
  /** File stem pattern of high-energy images; `{name}` is the pair's name. Default `{name}_high`. */
  highPattern?: string;
  /** File stem pattern of low-energy images. Default `{name}_low`. */
  lowPattern?: string;
  /** Extensions recognised (lower-case, with dot). Default .png .tif .tiff. */
  extensions?: readonly string[];
  /** Pairs converted at once. Default 4. */
  concurrency?: number;
  /** Called after each pair (converted or failed). */
  onProgress?: (done: number, total: number) => void;
}

export interface DualEnergyFolderReport {
  converted: { name: string; high: string; low: string; output: string }[];
  /** Files that matched one pattern but whose partner is missing, or that matched neither pattern. */
  unmatched: { file: string; reason: string }[];
  /** Pairs that could not be converted (bad bit depth, size mismatch, ...). */
  failed: { name: string; high: string; low: string; error: string }[];
}

function patternRegex(pattern: string): RegExp {
  if (!pattern.includes('{name}')) {
    throw new LaxrayError('INVALID_ARGUMENT', `file pattern "${pattern}" must contain {name} (e.g. "{name}_high")`);
  }
  const parts = pattern.split('{name}').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('(.+)')}$`);
}

/**
 * Converts every (high, low) pair in `inputDir` to `<outputDir>/<name>.png`.
 * Pairs are matched by name through the two patterns; files without a partner
 * are reported, not fatal; pairs that fail are reported with the reason.
 */
export async function convertDualEnergyFolder(inputDir: string, outputDir: string, options: DualEnergyFolderOptions = {}): Promise<DualEnergyFolderReport> {
  const highRe = patternRegex(options.highPattern ?? '{name}_high');
  const lowRe = patternRegex(options.lowPattern ?? '{name}_low');
  const exts = (options.extensions ?? ['.png', '.tif', '.tiff']).map((e) => e.toLowerCase());
  let entries: string[];
  try {
    entries = (await readdir(inputDir, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name).sort();
  } catch (err) {
    throw new LaxrayError('IO_ERROR', `cannot list input folder ${inputDir}: ${(err as Error).message}`, { cause: err });
  }
  const highs = new Map<string, string>();
  const lows = new Map<string, string>();
  const report: DualEnergyFolderReport = { converted: [], unmatched: [], failed: [] };
  for (const file of entries) {
    const ext = path.extname(file).toLowerCase();
    if (!exts.includes(ext)) continue;
    const stem = file.slice(0, file.length - ext.length);
    const h = highRe.exec(stem);
    const l = lowRe.exec(stem);
    if (h) highs.set(h[1] as string, file);
    else if (l) lows.set(l[1] as string, file);
    else report.unmatched.push({ file, reason: `matches neither ${options.highPattern ?? '{name}_high'} nor ${options.lowPattern ?? '{name}_low'}` });
  }
  const pairs: { name: string; high: string; low: string }[] = [];
  for (const [name, high] of highs) {
    const low = lows.get(name);
    if (low === undefined) report.unmatched.push({ file: high, reason: `no low-energy partner (${(options.lowPattern ?? '{name}_low').replace('{name}', name)}.*)` });
    else pairs.push({ name, high, low });
  }
  for (const [name, low] of lows) {
    if (!highs.has(name)) report.unmatched.push({ file: low, reason: `no high-energy partner (${(options.highPattern ?? '{name}_high').replace('{name}', name)}.*)` });
  }
  try {
    await mkdir(outputDir, { recursive: true });
  } catch (err) {
    throw new LaxrayError('IO_ERROR', `cannot create output folder ${outputDir}: ${(err as Error).message}`, { cause: err });
  }
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < pairs.length) {
      const p = pairs[next++] as (typeof pairs)[number];
      const high = path.join(inputDir, p.high);
      const low = path.join(inputDir, p.low);
      const output = path.join(outputDir, `${p.name}.png`);
      try {
        await convertDualEnergyPair(high, low, output);
        report.converted.push({ name: p.name, high, low, output });
      } catch (err) {
        report.failed.push({ name: p.name, high, low, error: (err as Error).message });
      }
      options.onProgress?.(++done, pairs.length);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  report.converted.sort((a, b) => a.name.localeCompare(b.name));
  report.failed.sort((a, b) => a.name.localeCompare(b.name));
  return report;
}
