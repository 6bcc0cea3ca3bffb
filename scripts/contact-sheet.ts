// Renders docs/synth-contact-sheet.png: generated samples in a grid with their
// boxes. Rows 1–3: pseudo-colour display (for people); row 4: the eq.-1
// 3-channel images of the first samples (what the detector is trained on).
//   node --import tsx scripts/contact-sheet.ts [out.png] [seed]
import path from 'node:path';
import { mkdir } from 'node:fs/promises';
import sharp, { type OverlayOptions } from 'sharp';
import { generateSample } from '../lib/data/synth/generate.js';
import { pseudoColour } from '../lib/data/synth/display.js';
import { resolveRecipe } from '../lib/data/synth/recipe.js';
import { CATEGORIES } from '../lib/data/synth/objects.js';

const out = process.argv[2] ?? 'docs/synth-contact-sheet.png';
const seed = Number(process.argv[3] ?? 7);
const cols = 4;
const rows = 4;
const cellW = 400;
const cellH = 330;
const pad = 6;
const recipe = resolveRecipe();
const COLOURS = ['#e6194b', '#f58231', '#ffe119', '#bfef45', '#3cb44b', '#42d4f4', '#4363d8', '#911eb4', '#f032e6', '#a9a9a9', '#9a6324', '#800000'];

const tiles: OverlayOptions[] = [];
const svg: string[] = [];
const nPseudo = cols * (rows - 1);
for (let t = 0; t < cols * rows; t++) {
  const i = t < nPseudo ? t : t - nPseudo;
  const s = generateSample(seed, i, recipe);
  const pixels = t < nPseudo ? pseudoColour(s.scan.high, s.scan.low, recipe) : s.rgb;
  const scale = Math.min((cellW - 2 * pad) / s.width, (cellH - 2 * pad - 16) / s.height);
  const w = Math.round(s.width * scale);
  const h = Math.round(s.height * scale);
  const ox = (t % cols) * cellW + pad + Math.floor((cellW - 2 * pad - w) / 2);
  const oy = Math.floor(t / cols) * cellH + pad + 16;
  const tile = await sharp(Buffer.from(pixels), { raw: { width: s.width, height: s.height, channels: 3 } }).resize(w, h).png().toBuffer();
  tiles.push({ input: tile, left: ox, top: oy });
  const title = `#${i} ${s.width}×${s.height} ${t < nPseudo ? 'pseudo-colour' : 'eq. 1 (model input)'}`;
  svg.push(`<text x="${(t % cols) * cellW + pad}" y="${Math.floor(t / cols) * cellH + pad + 11}" font-family="sans-serif" font-size="12" fill="#ddd">${title}</text>`);
  for (const a of s.annotations) {
    const [x, y, bw, bh] = a.bbox;
    const c = COLOURS[a.categoryId - 1];
    svg.push(`<rect x="${ox + x * scale}" y="${oy + y * scale}" width="${bw * scale}" height="${bh * scale}" fill="none" stroke="${c}" stroke-width="1.5"/>`);
    svg.push(`<text x="${ox + x * scale + 2}" y="${oy + y * scale + 10}" font-family="sans-serif" font-size="10" fill="${c}" stroke="#000" stroke-width="0.3">${CATEGORIES[a.categoryId - 1]} ov${a.overlap.toFixed(2)} bs${a.backgroundSimilarity.toFixed(2)}</text>`);
  }
}
const W = cols * cellW;
const H = rows * cellH;
const overlay = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${svg.join('')}</svg>`);
await mkdir(path.dirname(out), { recursive: true });
await sharp({ create: { width: W, height: H, channels: 3, background: '#202020' } })
  .composite([...tiles, { input: overlay, left: 0, top: 0 }])
  .png()
  .toFile(out);
console.log(`wrote ${out}`);
