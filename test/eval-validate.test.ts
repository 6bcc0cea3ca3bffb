// Input validation: every problem is reported in one LaxrayError whose message
// names the file, the index and the id, and says what to do.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { LaxrayError } from '../lib/errors.js';
import { evaluateCoco, indexGroundTruth } from '../lib/eval/index.js';
import { evaluateCocoFiles, loadDetectionsFile, loadGroundTruthFile } from '../lib/eval/files.js';
import { ann, dataset, det } from './fixtures/eval/build.js';
import { tempDir } from './helpers/temp_dir.js';

const gt = dataset([ann(1, [0, 0, 10, 10]), ann(2, [20, 20, 10, 10], { category_id: 2 })], { images: [1, 2], categories: [1, 2] });

function laxrayError(t: { fail(m?: string): void }, fn: () => unknown): LaxrayError {
  try {
    fn();
  } catch (err) {
    if (err instanceof LaxrayError) return err;
    throw err;
  }
  t.fail('expected a LaxrayError');
  throw new Error('unreachable');
}

test('detections naming unknown images and categories are an error that lists them all', (t) => {
  const e = laxrayError(t, () =>
    evaluateCoco(gt, [
      det([0, 0, 10, 10], 0.9),
      det([0, 0, 10, 10], 0.9, { image_id: 99 }),
      det([0, 0, 10, 10], 0.8, { image_id: 99 }),
      det([0, 0, 10, 10], 0.9, { image_id: 98 }),
      det([0, 0, 10, 10], 0.9, { category_id: 7 }),
    ]),
  );
  t.is(e.code, 'INVALID_DETECTIONS');
  t.is(e.details.length, 3);
  t.true(e.details.includes('image_id 99 is not an image of ground truth (used by detections[1], detections[2])'));
  t.true(e.details.includes('image_id 98 is not an image of ground truth (used by detections[3])'));
  t.true(e.details.includes('category_id 7 is not a category of ground truth (known: 1, 2; used by detections[4])'));
  t.regex(e.message, /3 problems/);
  t.regex(e.message, /check that both files belong together/);
});

test('missing fields, wrong types and non-finite numbers in detections are each listed', (t) => {
  const e = laxrayError(t, () =>
    evaluateCoco(gt, [
      { image_id: 1, category_id: 1, bbox: [0, 0, 1, 1] }, // no score
      { image_id: '1', category_id: 1, bbox: [0, 0, 1, 1], score: 0.5 },
      { image_id: 1, category_id: 1, bbox: [0, 0, 1], score: 0.5 },
      { image_id: 1, category_id: 1, bbox: [0, 0, 1, 1], score: Number.NaN },
      { image_id: 1, category_id: 1, bbox: [0, 0, Number.POSITIVE_INFINITY, 1], score: 0.5 },
      7,
    ]),
  );
  t.is(e.code, 'INVALID_DETECTIONS');
  // shape problems are found first (one pass), value problems after
  t.true(e.details.some((d) => d === 'detections[0]: "score" must be a number, got nothing'));
  t.true(e.details.some((d) => d === 'detections[1]: "image_id" must be a number, got "1"'));
  t.true(e.details.some((d) => /^detections\[2\]: "bbox" must be \[x, y, width, height\] \(4 numbers\), got \[0,0,1\]/.test(d)));
  t.true(e.details.some((d) => /^detections\[5\]: must be an object, got 7/.test(d)));
  const e2 = laxrayError(t, () =>
    evaluateCoco(gt, [
      { image_id: 1, category_id: 1, bbox: [0, 0, 1, 1], score: Number.NaN },
      { image_id: 1, category_id: 1, bbox: [0, 0, Number.POSITIVE_INFINITY, 1], score: 0.5 },
    ]),
  );
  t.deepEqual(e2.details, [
    'detections[0] (image 1): "score" must be a finite number, got NaN',
    'detections[1] (image 1): "bbox" [0, 0, Infinity, 1] must hold 4 finite numbers',
  ]);
});

test('a results file that is not an array says what it expects (and spots a dataset passed by mistake)', (t) => {
  const e = laxrayError(t, () => evaluateCoco(gt, gt));
  t.is(e.code, 'INVALID_DETECTIONS');
  t.regex(e.message, /must be a JSON array/);
  t.regex(e.message, /looks like a COCO dataset/);
});

test('ground truth problems are all listed with their annotation index and id', (t) => {
  const bad = {
    images: [{ id: 1 }, { id: 'x' }],
    categories: [{ id: 1, name: 'knife' }, { id: 1.5, name: 3 }],
    annotations: [
      { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], iscrowd: 0 }, // no area
      { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], area: 100 }, // duplicate id
      { id: 3, image_id: 5, category_id: 9, bbox: [0, 0, 10], area: 100, iscrowd: 2 },
    ],
  };
  const e = laxrayError(t, () => indexGroundTruth(bad, { source: 'val.json' }));
  t.is(e.code, 'INVALID_DATASET');
  t.regex(e.message, /^val\.json: \d+ problems found/);
  const has = (re: RegExp): void => {
    t.true(e.details.some((d) => re.test(d)), `no detail matches ${re}: ${e.details.join(' | ')}`);
  };
  has(/^images\[1\]: "id" must be a finite number, got "x"/);
  has(/^categories\[1\] \(id 1\.5\): "name" must be a string/);
  has(/^annotations\[0\] \(id 1\): "area" must be a finite number ≥ 0, got nothing; .*width·height/);
  has(/^annotations\[1\] \(id 1\): annotation id 1 is also the id of annotations\[0\]/);
  has(/^annotations\[2\] \(id 3\): "bbox" must be \[x, y, width, height\]/);
  has(/^annotations\[2\] \(id 3\): "iscrowd" must be 0, 1, true or false, got 2/);
  has(/^image_id 5 is used by annotations\[2\] but is not in "images"/);
  has(/^category_id 9 is used by annotations\[2\] but is not in "categories" \(known: 1\)/);
});

test('a ground truth that is not a COCO object is rejected with what is missing', (t) => {
  t.regex(laxrayError(t, () => indexGroundTruth([])).message, /must be a JSON object .* got an array \(is this a results file\?\)/);
  const e = laxrayError(t, () => indexGroundTruth({ images: [] }));
  t.deepEqual(e.details, ['"annotations" must be an array, got nothing', '"categories" must be an array, got nothing']);
});

test('image id lists: unknown ids are listed, an empty list or a wrong shape is refused', (t) => {
  const dets = [det([0, 0, 10, 10], 0.9)];
  const e = laxrayError(t, () => evaluateCoco(gt, dets, { imageIds: [1, 3, 4] }));
  t.is(e.code, 'INVALID_ARGUMENT');
  t.regex(e.details[0]!, /2 image ids are not in ground truth: 3, 4/);
  t.regex(laxrayError(t, () => evaluateCoco(gt, dets, { imageIds: [] })).message, /empty/);
  t.regex(laxrayError(t, () => evaluateCoco(gt, dets, { imageIds: { foo: 1 } })).message, /expected a JSON array of image ids/);
});

test('only iouType "bbox" and the two OPIXray AP methods are accepted', (t) => {
  const e = laxrayError(t, () => evaluateCoco(gt, [], { iouType: 'segm' as 'bbox' }));
  t.is(e.code, 'INVALID_ARGUMENT');
  t.regex(e.message, /use iouType "bbox"/);
  const m = laxrayError(t, () => evaluateCoco(gt, [], { opixrayMethod: 'voc12' as 'area' }));
  t.is(m.code, 'INVALID_ARGUMENT');
  t.regex(m.message, /"area" .* or "11point"/);
});

test('an empty results list is valid and scores 0 where there is ground truth', (t) => {
  const r = evaluateCoco(gt, []);
  t.is(r.stats.AP, 0);
  t.is(r.stats.AR100, 0);
  t.is(r.stats.APm, -1);
});

test('files: missing file is IO_ERROR, malformed JSON names file, line and column', async (t) => {
  const dir = tempDir('eval');
  const gtPath = path.join(dir, 'gt.json');
  writeFileSync(gtPath, JSON.stringify(gt));
  const missing = path.join(dir, 'nope.json');
  const e1 = await t.throwsAsync(evaluateCocoFiles(gtPath, missing), { instanceOf: LaxrayError });
  t.is(e1.code, 'IO_ERROR');
  t.is(e1.message, `cannot read the detections file ${missing}: no such file; check the path`);

  const broken = path.join(dir, 'broken.json');
  writeFileSync(broken, '[\n  {"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5},\n  {"image_id": 1,, }\n]');
  const e2 = await t.throwsAsync(evaluateCocoFiles(gtPath, broken), { instanceOf: LaxrayError });
  t.is(e2.code, 'INVALID_DETECTIONS');
  t.regex(e2.message, new RegExp(`^${broken.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:\\d+: the detections file is not valid JSON at line 3, column \\d+`));

  const badGt = path.join(dir, 'badgt.json');
  writeFileSync(badGt, '{"images": [');
  const e3 = await t.throwsAsync(evaluateCocoFiles(badGt, broken), { instanceOf: LaxrayError });
  t.is(e3.code, 'INVALID_DATASET');
  t.regex(e3.message, /badgt\.json:1:\d+: the ground-truth file is not valid JSON/);

  const empty = path.join(dir, 'empty.json');
  writeFileSync(empty, '');
  const e4 = await t.throwsAsync(evaluateCocoFiles(gtPath, empty), { instanceOf: LaxrayError });
  t.regex(e4.message, /empty/);

  // 1e999 parses to Infinity: reported, not evaluated
  const huge = path.join(dir, 'huge.json');
  writeFileSync(huge, '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1e999, 1], "score": 0.5}]');
  const e5 = await t.throwsAsync(evaluateCocoFiles(gtPath, huge), { instanceOf: LaxrayError });
  t.regex(e5.details[0]!, new RegExp(`detections\\[0\\] \\(image 1\\): "bbox" \\[0, 0, Infinity, 1\\] must hold 4 finite numbers`));
  t.regex(e5.message, /huge\.json/);

  // unknown ids in a file name the file
  const unknown = path.join(dir, 'unknown.json');
  writeFileSync(unknown, JSON.stringify([det([0, 0, 1, 1], 0.5, { image_id: 42 })]));
  const e6 = await t.throwsAsync(evaluateCocoFiles(gtPath, unknown), { instanceOf: LaxrayError });
  t.regex(e6.message, /^.*unknown\.json: 1 problem found \(first: image_id 42 is not an image of .*gt\.json \(used by detections\[0\]\)\)/);

  // fields with the wrong type in a file go through the detailed path
  const wrong = path.join(dir, 'wrong.json');
  writeFileSync(wrong, '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": "high"}]');
  const e7 = await t.throwsAsync(loadDetectionsFile(wrong), { instanceOf: LaxrayError });
  t.deepEqual(e7.details, ['detections[0]: "score" must be a number, got "high"']);
});

test('repeated image or category entries are tolerated as pycocotools does, with a warning', (t) => {
  const g = dataset([ann(1, [0, 0, 10, 10])], { images: [1, 1], categories: [1] });
  g.categories.push({ id: 1, name: 'renamed' });
  const r = evaluateCoco(g, [det([0, 0, 10, 10], 0.9)]);
  t.is(r.counts.images, 1);
  t.is(r.perClass[0]!.name, 'renamed');
  t.is(r.warnings.length, 2);
  t.regex(r.warnings[0]!, /1 image id appears more than once in "images" \(1\)/);
  t.regex(r.warnings[1]!, /category id 1 repeats categories\[0\]/);
});

test('deeply nested JSON in results and ground-truth files is an error with a code, never a RangeError', async (t) => {
  const dir = tempDir('deep');
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  const cases: [string, string, (f: string) => Promise<unknown>, string][] = [
    ['results.json', deep(100_000), loadDetectionsFile, 'INVALID_DETECTIONS'],
    ['bbox.json', `[{"image_id": 1, "category_id": 1, "score": 0.5, "bbox": ${deep(100_000)}}]`, loadDetectionsFile, 'INVALID_DETECTIONS'],
    ['gt.json', `{"images": ${deep(100_000)}, "annotations": [], "categories": []}`, loadGroundTruthFile, 'INVALID_DATASET'],
    ['gt-id.json', `{"images": [{"id": ${deep(100_000)}}], "annotations": [], "categories": []}`, loadGroundTruthFile, 'INVALID_DATASET'],
  ];
  for (const [name, text, load, code] of cases) {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    const err = await t.throwsAsync(load(file), { instanceOf: LaxrayError }, name);
    t.is(err?.code as string | undefined, code, name);
    t.true(err!.message.length < 2000, `${name}: a short message`);
  }
});
