import test from 'ava';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { generateDataset, generateSample, sampleScene } from '../lib/data/synth/generate.js';
import { resolveRecipe, CLCXRAY_CLASS_COUNTS, DEFAULT_RECIPE } from '../lib/data/synth/recipe.js';
import { renderScene } from '../lib/data/synth/render.js';
import { annotate, maskExtent } from '../lib/data/synth/annotate.js';
import { rasterize, type Primitive, type RasterTarget } from '../lib/data/synth/shapes.js';
import { attenuationTable, linearAttenuation, massAttenuation } from '../lib/data/synth/materials.js';
import { Rng } from '../lib/data/random.js';
import { selectChallenging } from '../lib/data/synth/challenging.js';
import { pseudoColour } from '../lib/data/synth/display.js';
import { assignSplits } from '../lib/data/synth/split.js';
import { CATEGORIES } from '../lib/data/synth/objects.js';
import type { Scene } from '../lib/data/synth/scene.js';
import { LaxrayError } from '../lib/errors.js';
import { convertDualEnergyFolder } from '../lib/data/dual_energy.js';
import sharp from 'sharp';
import { tempDir } from './helpers/temp_dir.js';

const small = resolveRecipe({ width: 200, height: 150 });

function rect(x0: number, y0: number, x1: number, y1: number, thickness: number, material: 'iron' | 'water' | 'aluminium' = 'iron'): Primitive {
  return { kind: 'polygon', rings: [[x0, y0, x1, y0, x1, y1, x0, y1]], thickness, material };
}

function handScene(objects: Primitive[][], clutter: Primitive[] = [], width = 64, height = 48): Scene {
  return {
    width,
    height,
    pxPerMm: 1,
    bag: { x0: 0, y0: 0, x1: width, y1: height, pxPerMm: 1 },
    clutter,
    objects: objects.map((primitives, i) => ({ categoryId: i + 1, primitives, bounds: [0, 0, width, height], placedOver: false })),
  };
}

const quiet = { ...DEFAULT_RECIPE, photonsLow: 1e12, photonsHigh: 1e12, electronicNoise: 0, blur: false };

test('the same seed and index give an identical sample; another seed gives another', (t) => {
  const a = generateSample(42, 3, small);
  const b = generateSample(42, 3, small);
  t.deepEqual(Buffer.from(a.rgb), Buffer.from(b.rgb));
  t.deepEqual(Buffer.from(a.scan.high.buffer), Buffer.from(b.scan.high.buffer));
  t.deepEqual(Buffer.from(a.scan.low.buffer), Buffer.from(b.scan.low.buffer));
  t.deepEqual(a.annotations, b.annotations);
  const c = generateSample(43, 3, small);
  t.notDeepEqual(Buffer.from(a.rgb), Buffer.from(c.rgb));
});

async function tree(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const full = path.join(e.parentPath, e.name);
    out.set(path.relative(dir, full), await readFile(full));
  }
  return out;
}

test('a dataset is byte-identical for the same seed, in one thread or across workers', async (t) => {
  const root = tempDir('synth');
  const opts = { count: 12, seed: 9, recipe: { width: 160, height: 120 }, raw: true };
  await generateDataset({ ...opts, outDir: path.join(root, 'a'), workers: 1 });
  const r = await generateDataset({ ...opts, outDir: path.join(root, 'b'), workers: 2 });
  const a = await tree(path.join(root, 'a'));
  const b = await tree(path.join(root, 'b'));
  t.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [k, v] of a) t.true(v.equals(b.get(k) as Buffer), `${k} differs`);
  t.true(a.has('images/000012.png') && a.has('raw/000001_high.png') && a.has('raw/000001_low.png'));

  const coco = JSON.parse((a.get('all.json') as Buffer).toString());
  t.deepEqual(coco.categories.map((c: { id: number; name: string }) => [c.id, c.name]), CATEGORIES.map((n, i) => [i + 1, n]));
  t.is(coco.images.length, 12);
  t.deepEqual(Object.keys(coco.images[0]).slice(0, 4), ['id', 'file_name', 'width', 'height']);
  for (const ann of coco.annotations) {
    t.is(ann.iscrowd, 0);
    t.is(ann.area, ann.bbox[2] * ann.bbox[3]);
    t.true(ann.overlap >= 0 && ann.overlap <= 1 && ann.background_similarity >= 0 && ann.background_similarity <= 1);
  }
  const splitIds = ['train', 'val', 'test'].flatMap((s) => JSON.parse((a.get(`${s}.json`) as Buffer).toString()).images.map((im: { id: number }) => im.id));
  t.deepEqual(splitIds.sort((x: number, y: number) => x - y), coco.images.map((im: { id: number }) => im.id));
  t.is(r.stats.objects, coco.annotations.length);

  // the raw pairs run through the eq.-1 folder converter give back exactly the dataset's images
  const report = await convertDualEnergyFolder(path.join(root, 'a', 'raw'), path.join(root, 'converted'));
  t.is(report.converted.length, 12);
  t.deepEqual(report.unmatched, []);
  for (const c of report.converted) {
    const [mine, theirs] = await Promise.all([sharp(c.output).raw().toBuffer(), sharp(path.join(root, 'a', 'images', `${c.name}.png`)).raw().toBuffer()]);
    t.true(mine.equals(theirs), `${c.name}: eq. 1 of the raw pair differs from the dataset image`);
  }
});

test('boxes are tight to the object masks (independent re-rasterisation, thickness > 0)', (t) => {
  let checked = 0;
  for (let i = 0; i < 8; i++) {
    const s = generateSample(7, i, resolveRecipe({ width: 320, height: 240 }));
    let k = 0;
    s.scene.objects.forEach((obj, j) => {
      const mask = s.scan.masks[j]!;
      const ext = maskExtent(mask);
      if (!ext) return;
      const ann = s.annotations[k++]!;
      // rasterise the object alone into empty maps: its footprint is where the line integral is > 0
      const n = s.width * s.height;
      const target: RasterTarget = { width: s.width, height: s.height, mmPerPx: 1 / s.scene.pxPerMm, muLow: attenuationTable(60), muHigh: attenuationTable(120), aLow: new Float32Array(n), aHigh: new Float32Array(n) };
      for (const p of obj.primitives) rasterize(p, target);
      let x0 = Infinity, y0 = Infinity, x1 = -1, y1 = -1;
      for (let y = 0; y < s.height; y++) for (let x = 0; x < s.width; x++) if (target.aLow[y * s.width + x]! > 0) {
        x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
      }
      t.deepEqual(ann.bbox, [x0, y0, x1 - x0 + 1, y1 - y0 + 1]);
      checked++;
    });
  }
  t.true(checked >= 10);
});

test('overlap ratios on two hand-placed rectangles: A 20×20 and B 30×20 sharing 10×10', (t) => {
  // A covers x 10..29, y 10..29 (400 px); B covers x 20..49, y 20..39 (600 px); shared x 20..29, y 20..29 (100 px)
  const scene = handScene([[rect(10, 10, 30, 30, 1)], [rect(20, 20, 50, 40, 1)]]);
  const scan = renderScene(scene, new Rng(1), quiet);
  const anns = annotate([1, 2], scan.masks, scan.aLow, scan.aHigh, scene.width, scene.height);
  t.deepEqual(anns.map((a) => a.bbox), [[10, 10, 20, 20], [20, 20, 30, 20]]);
  t.deepEqual(anns.map((a) => a.maskArea), [400, 600]);
  t.is(anns[0]!.overlap, 100 / 400);
  t.is(anns[1]!.overlap, 100 / 600);
});

test('background similarity: an object adding as much attenuation as the background it lies on scores 0.5; alone on air 0', (t) => {
  // background slab μt = k everywhere; the object adds k more: inside 2k, around k → contrast 1/2
  const bg = rect(0, 0, 64, 48, 3, 'water');
  const scene = handScene([[rect(20, 15, 40, 30, 3, 'water')]], [bg]);
  const scan = renderScene(scene, new Rng(1), quiet);
  const [a] = annotate([1], scan.masks, scan.aLow, scan.aHigh, 64, 48);
  t.true(Math.abs(a!.backgroundSimilarity - 0.5) < 1e-6);
  const alone = handScene([[rect(20, 15, 40, 30, 3, 'water')]]);
  const scan2 = renderScene(alone, new Rng(1), quiet);
  t.is(annotate([1], scan2.masks, scan2.aLow, scan2.aHigh, 64, 48)[0]!.backgroundSimilarity, 0);
});

test('Beer–Lambert: 10 mm of water reads air·exp(−μ·10) with μ from the NIST table (hand-computed)', (t) => {
  // water μ/ρ: 0.2059 cm²/g at 60 keV; at 120 keV log–log between 0.1707 (100) and 0.1505 (150):
  // f = ln(1.2)/ln(1.5) = 0.44966 → 0.1707·(0.1505/0.1707)^f = 0.16130 cm²/g
  t.true(Math.abs(massAttenuation('water', 60) - 0.2059) < 1e-12);
  t.true(Math.abs(massAttenuation('water', 120) - 0.1613) < 1e-5);
  const scene = handScene([], [rect(0, 0, 64, 48, 10, 'water')]);
  const scan = renderScene(scene, new Rng(1), quiet);
  const lowExpected = 64000 * Math.exp(-0.02059 * 10); // ≈ 52 091
  const highExpected = 64000 * Math.exp(-0.01613 * 10); // ≈ 54 466
  for (let i = 0; i < 64 * 48; i += 97) {
    t.true(Math.abs(scan.low[i]! - lowExpected) <= 1.5, `low ${scan.low[i]} vs ${lowExpected}`);
    t.true(Math.abs(scan.high[i]! - highExpected) <= 1.5, `high ${scan.high[i]} vs ${highExpected}`);
  }
  // steel attenuates far more at the low energy than water does: the dual-energy contrast
  const ratio = (m: 'iron' | 'aluminium' | 'water'): number => linearAttenuation(m, 60) / linearAttenuation(m, 120);
  t.true(ratio('iron') > 3.5 && ratio('aluminium') > 1.6 && ratio('water') < 1.35);
});

test('photon and electronic noise have the configured spread on air', (t) => {
  const scene = handScene([], [], 200, 100);
  const scan = renderScene(scene, new Rng(3), { ...DEFAULT_RECIPE, blur: false });
  let sum = 0, sum2 = 0;
  for (const v of scan.low) { sum += v; sum2 += v * v; }
  const n = scan.low.length;
  const sd = Math.sqrt(sum2 / n - (sum / n) ** 2);
  // σ² = air·air/N0 + σe² = 64000²/15000 + 20² → σ ≈ 522.9
  t.true(Math.abs(sum / n - 64000) < 15);
  t.true(Math.abs(sd - Math.sqrt(64000 ** 2 / 15000 + 400)) < 15);
});

test('class mix, objects per image and image sizes follow the recipe over 500 scene layouts', (t) => {
  const counts = new Array(12).fill(0);
  const perImage: number[] = [];
  for (let i = 0; i < 500; i++) {
    const scene = sampleScene(2024, i, DEFAULT_RECIPE);
    perImage.push(scene.objects.length);
    for (const o of scene.objects) counts[o.categoryId - 1]++;
    t.true(scene.width >= 373 && scene.width <= 732 && scene.height >= 200 && scene.height <= 1280);
  }
  const total = counts.reduce((a, b) => a + b, 0);
  const weightSum = CLCXRAY_CLASS_COUNTS.reduce((a, b) => a + b, 0);
  CLCXRAY_CLASS_COUNTS.forEach((w, c) => {
    const p = w / weightSum;
    const tol = 4 * Math.sqrt((p * (1 - p)) / total);
    t.true(Math.abs(counts[c] / total - p) <= tol, `${CATEGORIES[c]}: ${(counts[c] / total).toFixed(3)} vs ${p.toFixed(3)} ± ${tol.toFixed(3)}`);
  });
  const mean = total / 500;
  const twoPlus = perImage.filter((n) => n >= 2).length / 500;
  t.true(Math.abs(mean - 2.15) < 0.2, `mean ${mean}`);
  t.true(Math.abs(twoPlus - 0.6) < 0.06, `≥2: ${twoPlus}`);
});

test('fixed object count and overlap rate controls', (t) => {
  const none = resolveRecipe({ width: 400, height: 300, objectsPerImage: 3, overlapRate: 0 });
  const all = resolveRecipe({ width: 400, height: 300, objectsPerImage: 3, overlapRate: 1 });
  let overNone = 0, overAll = 0;
  for (let i = 0; i < 30; i++) {
    const a = sampleScene(5, i, none);
    const b = sampleScene(5, i, all);
    t.is(a.objects.length, 3);
    overNone += a.objects.filter((o) => o.placedOver).length;
    overAll += b.objects.filter((o) => o.placedOver).length;
  }
  t.is(overNone, 0);
  t.is(overAll, 60);
  // measured overlap follows: mean mask overlap is much higher with overlapRate 1
  const meanOverlap = (r: typeof none): number => {
    let s = 0, n = 0;
    for (let i = 0; i < 12; i++) for (const a of generateSample(5, i, r).annotations) { s += a.overlap; n++; }
    return s / n;
  };
  t.true(meanOverlap(all) > meanOverlap(none) + 0.15);
});

test('challenging selector: overlap ≥ t1 or background similarity ≥ t2, per image', (t) => {
  const ds = {
    images: [{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }],
    annotations: [
      { image_id: 1, overlap: 0.1, background_similarity: 0.2 },
      { image_id: 1, overlap: 0.5, background_similarity: 0.2 },
      { image_id: 2, overlap: 0, background_similarity: 0.85 },
      { image_id: 3, overlap: 0.34, background_similarity: 0.79 },
      { image_id: 9, overlap: 1, background_similarity: 1 },
    ],
  };
  t.deepEqual(selectChallenging(ds), [1, 2]);
  t.deepEqual(selectChallenging(ds, { minOverlap: 0.3, minSimilarity: 0.9 }), [1, 3]);
  t.deepEqual(selectChallenging({ images: [{ id: 2 }], annotations: ds.annotations }), [2]);
});

test('splits are exact 8:1:1 and deterministic', (t) => {
  const s = assignSplits(100, 4, [0.8, 0.1, 0.1]);
  t.deepEqual(['train', 'val', 'test'].map((k) => s.filter((v) => v === k).length), [80, 10, 10]);
  t.deepEqual(s, assignSplits(100, 4, [0.8, 0.1, 0.1]));
  t.notDeepEqual(s, assignSplits(100, 5, [0.8, 0.1, 0.1]));
});

test('recipe errors name the field', (t) => {
  t.throws(() => resolveRecipe({ overlapRate: 2 }), { instanceOf: LaxrayError, message: /overlapRate must be in \[0, 1\]/ });
  t.throws(() => resolveRecipe({ colour: 1 } as never), { instanceOf: LaxrayError, message: /unknown synth recipe field "colour"/ });
  t.throws(() => resolveRecipe({ width: [500, 100] }), { instanceOf: LaxrayError, message: /width/ });
});

test('pseudo-colour display: air is white, water is orange, steel is blue', (t) => {
  const scene = handScene([], [rect(0, 0, 10, 10, 50, 'water'), rect(20, 0, 30, 10, 3, 'iron')], 40, 10);
  const scan = renderScene(scene, new Rng(1), quiet);
  const rgb = pseudoColour(scan.high, scan.low, quiet);
  const px = (x: number): [number, number, number] => [rgb[3 * (5 * 40 + x)]!, rgb[3 * (5 * 40 + x) + 1]!, rgb[3 * (5 * 40 + x) + 2]!];
  const [wr, , wb] = px(5);
  const [sr, , sb] = px(25);
  t.true(px(35).every((v) => v >= 240), `air ${px(35)}`);
  t.true(wr > wb + 60, `water ${px(5)}`);
  t.true(sb > sr + 30, `steel ${px(25)}`);
});

test('few photons: the reading behind thick steel follows Poisson statistics (mean n, variance n photons)', (t) => {
  // 8 mm of steel at 60 keV: μ = 1.205·7.874/10 = 0.9488 /mm → n = 15000·exp(−7.590) = 7.58 photons
  const scene = handScene([], [rect(0, 0, 200, 100, 8, 'iron')], 200, 100);
  const scan = renderScene(scene, new Rng(5), { ...DEFAULT_RECIPE, blur: false, electronicNoise: 0 });
  const perPhoton = 64000 / 15000;
  let sum = 0, sum2 = 0;
  for (const v of scan.low) {
    const k = v / perPhoton;
    sum += k;
    sum2 += k * k;
  }
  const n = scan.low.length;
  const mean = sum / n;
  const variance = sum2 / n - mean * mean;
  const expected = 15000 * Math.exp(-0.94882 * 8);
  t.true(Math.abs(mean - expected) < 0.15, `mean ${mean} vs ${expected}`);
  t.true(Math.abs(variance - expected) < 0.6, `variance ${variance} vs ${expected}`);
});

test('generateDataset rejects a bad count, seed or output folder with LaxrayError', async (t) => {
  await t.throwsAsync(generateDataset({ outDir: 'unused', count: 0 }), { instanceOf: LaxrayError, message: /count must be a positive integer/ });
  await t.throwsAsync(generateDataset({ outDir: 'unused', count: 1, seed: -1 }), { instanceOf: LaxrayError, message: /seed must be an integer/ });
  const root = tempDir('synth');
  const file = path.join(root, 'a-file');
  await (await import('node:fs/promises')).writeFile(file, 'x');
  const err = await t.throwsAsync(generateDataset({ outDir: path.join(file, 'sub'), count: 1, workers: 1 }), { instanceOf: LaxrayError });
  t.is(err?.code, 'IO_ERROR');
  t.regex(err?.message ?? '', /a-file/);
});
