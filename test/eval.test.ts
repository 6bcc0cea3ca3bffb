// Exactness against pycocotools: the cases in test/fixtures/cocoeval (stats to
// 1e-9, as the issue asks; they come out bit-identical) and the reference cases in
// test/fixtures/eval (made by make_reference.py with pycocotools 2.0.11: stats
// and per-class numbers, all images and an image subset) compared exactly.
import test from 'ava';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { evaluateCoco, indexGroundTruth, STAT_NAMES, type CocoEvalResult, type StatName } from '../lib/eval/index.js';
import { evaluateCocoFiles } from '../lib/eval/files.js';
import { fixture } from './helpers/paths.js';
import { tempDir } from './helpers/temp_dir.js';

const casesDir = fixture('cocoeval');
const referenceDir = fixture('eval');

interface PycocotoolsCase {
  groundTruth: unknown;
  detections: unknown;
  expectedStats: number[];
  statsOrder: StatName[];
}

interface ReferenceCase {
  name: string;
  groundTruth: unknown;
  detections: unknown;
  statsOrder: StatName[];
  runs: { imageIds: number[] | null; expectedStats: number[]; perClass: ({ id: number } & Record<StatName, number | null>)[] }[];
}

const caseFiles = readdirSync(casesDir).filter((f) => /^case-.*\.json$/.test(f)).sort();

test('the pycocotools cases are there', (t) => {
  t.true(caseFiles.length >= 3, `expected case-*.json in ${casesDir}`);
});

for (const file of caseFiles) {
  test(`${file}: all 12 stats equal pycocotools' to 1e-9`, (t) => {
    const c = JSON.parse(readFileSync(path.join(casesDir, file), 'utf8')) as PycocotoolsCase;
    const r = evaluateCoco(c.groundTruth, c.detections);
    t.is(c.statsOrder.length, 12);
    c.statsOrder.forEach((name, i) => {
      const diff = Math.abs(r.stats[name] - c.expectedStats[i]!);
      t.true(diff <= 1e-9, `${name}: ${r.stats[name]} vs pycocotools ${c.expectedStats[i]} (diff ${diff})`);
    });
    // statsArray follows pycocotools' order
    t.deepEqual(r.statsOrder, c.statsOrder);
    t.deepEqual(r.statsArray, c.statsOrder.map((n) => r.stats[n]));
  });
}

test('the pycocotools cases come out bit-identical, in memory and from files', async (t) => {
  const dir = tempDir('eval');
  for (const file of caseFiles) {
    const c = JSON.parse(readFileSync(path.join(casesDir, file), 'utf8')) as PycocotoolsCase;
    const mem = evaluateCoco(c.groundTruth, c.detections);
    t.deepEqual(c.statsOrder.map((n) => mem.stats[n]), c.expectedStats, file);
    const gtPath = path.join(dir, 'gt.json');
    const detPath = path.join(dir, 'det.json');
    writeFileSync(gtPath, JSON.stringify(c.groundTruth, null, 1)); // pretty: whitespace everywhere
    writeFileSync(detPath, JSON.stringify(c.detections, null, 2));
    const fromFiles = await evaluateCocoFiles(gtPath, detPath);
    t.deepEqual(fromFiles.statsArray, mem.statsArray, file);
    t.true(fromFiles.timings.read >= 0);
  }
});

const referenceFiles = readdirSync(referenceDir).filter((f) => /^reference-.*\.json$/.test(f)).sort();

function checkPerClass(t: { is(a: unknown, b: unknown, m?: string): void }, r: CocoEvalResult, expected: ReferenceCase['runs'][number]['perClass'], label: string): void {
  t.is(r.perClass.length, expected.length, label);
  expected.forEach((e, k) => {
    t.is(r.perClass[k]!.id, e.id, label);
    for (const name of STAT_NAMES) t.is(r.perClass[k]![name], e[name], `${label} class ${e.id} ${name}`);
  });
}

for (const file of referenceFiles) {
  test(`${file}: stats and per-class numbers are exactly pycocotools'`, (t) => {
    const c = JSON.parse(readFileSync(path.join(referenceDir, file), 'utf8')) as ReferenceCase;
    t.is(c.runs.length, 2);
    for (const run of c.runs) {
      const label = `${c.name} ${run.imageIds === null ? 'all images' : `${run.imageIds.length} images`}`;
      const r = evaluateCoco(c.groundTruth, c.detections, run.imageIds === null ? {} : { imageIds: run.imageIds });
      t.deepEqual(c.statsOrder.map((n) => r.stats[n]), run.expectedStats, label);
      checkPerClass(t, r, run.perClass, label);
    }
  });
}

test('the quirks case exercises what it claims (crowds, ignore flags, id 0, negative boxes, repeated images)', (t) => {
  const c = JSON.parse(readFileSync(path.join(referenceDir, 'reference-quirks.json'), 'utf8')) as ReferenceCase & {
    groundTruth: { images: { id: number }[]; annotations: { id: number; iscrowd: number; ignore?: number; area: number }[] };
    detections: { bbox: number[] }[];
  };
  const anns = c.groundTruth.annotations;
  t.true(anns.some((a) => a.id === 0));
  t.true(anns.some((a) => a.iscrowd === 1));
  t.true(anns.some((a) => a.ignore === 1 && a.iscrowd === 0));
  t.true(anns.some((a) => a.area === 1024 || a.area === 9216));
  t.true(c.detections.some((d) => d.bbox[2]! < 0 || d.bbox[3]! < 0));
  const ids = c.groundTruth.images.map((i) => i.id);
  t.true(new Set(ids).size < ids.length);
  const r = evaluateCoco(c.groundTruth, c.detections);
  t.true(r.warnings.some((w) => /more than once/.test(w)));
  t.true(r.warnings.some((w) => /negative width or height/.test(w)));
});

test('the over-100 case has images with more than 100 detections of one class', (t) => {
  const c = JSON.parse(readFileSync(path.join(referenceDir, 'reference-over-100-per-image.json'), 'utf8')) as { detections: { image_id: number; category_id: number }[] };
  const counts = new Map<string, number>();
  for (const d of c.detections) counts.set(`${d.image_id}/${d.category_id}`, (counts.get(`${d.image_id}/${d.category_id}`) ?? 0) + 1);
  t.true(Math.max(...counts.values()) > 100);
});

test('the same numbers from indexed ground truth and columnar detections (the per-epoch path)', (t) => {
  const c = JSON.parse(readFileSync(path.join(casesDir, caseFiles[1]!), 'utf8')) as PycocotoolsCase & {
    detections: { image_id: number; category_id: number; bbox: number[]; score: number }[];
  };
  const reference = evaluateCoco(c.groundTruth, c.detections);
  const gt = indexGroundTruth(c.groundTruth);
  const n = c.detections.length;
  const columns = {
    count: n,
    imageId: Float64Array.from(c.detections, (d) => d.image_id),
    categoryId: Float64Array.from(c.detections, (d) => d.category_id),
    box: Float64Array.from(c.detections.flatMap((d) => d.bbox)),
    score: Float64Array.from(c.detections, (d) => d.score),
  };
  const fromColumns = evaluateCoco(gt, columns);
  t.deepEqual(fromColumns.statsArray, reference.statsArray);
  // the indexed ground truth can be reused, e.g. with an image subset
  const firstTen = Array.from(gt.imageIds.slice(0, 10));
  t.deepEqual(evaluateCoco(gt, columns, { imageIds: firstTen }).statsArray, evaluateCoco(c.groundTruth, c.detections, { imageIds: firstTen }).statsArray);
});
