// A contact sheet of generated samples for people to look at: a grid of
// pseudo-colour renders with the labelled boxes (class, overlap, background
// similarity), and a last row of the eq.-1 images the detector is trained on.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import sharp, { type OverlayOptions } from 'sharp';
import { LaxrayError } from '../../errors.js';
import { generateSample } from './generate.js';
import { pseudoColour } from './display.js';
import { CATEGORIES } from './objects.js';
import type { SynthRecipe } from './recipe.js';

export interface ContactSheetOptions {
  seed: number;
  recipe: SynthRecipe;
  /** Grid columns (default 4) and rows of pseudo-colour tiles (default 3). */
  cols?: number;
  rows?: number;
  /** Add a row with the eq.-1 images of the first samples (default true). */
  modelInputRow?: boolean;
  cellWidth?: number;
  cellHeight?: number;
}

const COLOURS = ['#e6194b', '#f58231', '#ffe119', '#bfef45', '#3cb44b', '#42d4f4', '#4363d8', '#911eb4', '#f032e6', '#a9a9a9', '#9a6324', '#800000'];

/** Renders samples 0.. of the dataset (seed, recipe) into a PNG at `file`. */
export async function writeContactSheet(file: string, options: ContactSheetOptions): Promise<void> {
  const cols = options.cols ?? 4;
  const rows = (options.rows ?? 3) + (options.modelInputRow === false ? 0 : 1);
  const nPseudo = cols * (options.rows ?? 3);
  const cellW = options.cellWidth ?? 400;
  const cellH = options.cellHeight ?? 330;
  const pad = 6;
  const tiles: OverlayOptions[] = [];
  const svg: string[] = [];
  for (let t = 0; t < cols * rows; t++) {
    const pseudo = t < nPseudo;
    const i = pseudo ? t : t - nPseudo;
    const s = generateSample(options.seed, i, options.recipe);
    const pixels = pseudo ? pseudoColour(s.scan.high, s.scan.low, options.recipe) : s.rgb;
    const scale = Math.min((cellW - 2 * pad) / s.width, (cellH - 2 * pad - 16) / s.height);
    const w = Math.max(1, Math.round(s.width * scale));
    const h = Math.max(1, Math.round(s.height * scale));
    const ox = (t % cols) * cellW + pad + Math.floor((cellW - 2 * pad - w) / 2);
    const oy = Math.floor(t / cols) * cellH + pad + 16;
    tiles.push({ input: await sharp(Buffer.from(pixels), { raw: { width: s.width, height: s.height, channels: 3 } }).resize(w, h).png().toBuffer(), left: ox, top: oy });
    svg.push(`<text x="${(t % cols) * cellW + pad}" y="${Math.floor(t / cols) * cellH + pad + 11}" font-family="sans-serif" font-size="12" fill="#ddd">#${i + 1} ${s.width}×${s.height} ${pseudo ? 'pseudo-colour' : 'eq. 1 (model input)'}</text>`);
    for (const a of s.annotations) {
      const [x, y, bw, bh] = a.bbox;
      const c = COLOURS[(a.categoryId - 1) % COLOURS.length];
      svg.push(`<rect x="${ox + x * scale}" y="${oy + y * scale}" width="${bw * scale}" height="${bh * scale}" fill="none" stroke="${c}" stroke-width="1.5"/>`);
      svg.push(`<text x="${ox + x * scale + 2}" y="${oy + y * scale + 10}" font-family="sans-serif" font-size="10" fill="${c}" stroke="#000" stroke-width="0.3">${CATEGORIES[a.categoryId - 1]} ov${a.overlap.toFixed(2)} bs${a.backgroundSimilarity.toFixed(2)}</text>`);
    }
  }
  const W = cols * cellW;
  const H = rows * cellH;
  const overlay = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${svg.join('')}</svg>`);
  try {
    await mkdir(path.dirname(file), { recursive: true });
    await sharp({ create: { width: W, height: H, channels: 3, background: '#202020' } })
      .composite([...tiles, { input: overlay, left: 0, top: 0 }])
      .png()
      .toFile(file);
  } catch (err) {
    throw new LaxrayError('IO_ERROR', `cannot write the contact sheet ${file}: ${(err as Error).message}`, { cause: err });
  }
}
