// COCO loader: each malformed case is rejected with a message naming the ids,
// every problem is collected, box policies clip/drop/error are counted exactly.
import test from 'ava';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { LaxrayError } from '../lib/errors.js';
import { loadCocoDataset, parseCocoDataset, subsetDataset, verifyDatasetImages, type CocoLoadOptions } from '../lib/data/coco.js';
import { validCoco, writeJson, writeValidImages } from './fixtures/data/make.js';
import { tempDir } from './helpers/temp_dir.js';

async function withDataset(
  mutate: (coco: ReturnType<typeof validCoco>) => void,
  options: CocoLoadOptions = {},
): Promise<Awaited<ReturnType<typeof loadCocoDataset>>> {
  const dir = tempDir('data');
  await writeValidImages(dir);
  const coco = validCoco();
  mutate(coco);
  await writeJson(path.join(dir, 'instances.json'), coco);
  return await loadCocoDataset(path.join(dir, 'instances.json'), options);
}

async function rejects(t: import('ava').ExecutionContext, mutate: (coco: ReturnType<typeof validCoco>) => void, expected: RegExp[], options: CocoLoadOptions = {}): Promise<LaxrayError> {
  const err = await t.throwsAsync(withDataset(mutate, options), { instanceOf: LaxrayError });
  t.is(err!.code, 'INVALID_DATASET');
  for (const re of expected) t.true(err!.details.some((d) => re.test(d)), `no detail matches ${re}; details: ${JSON.stringify(err!.details)}`);
  t.regex(err!.message, /instances\.json: \d+ problems? found/);
  return err as LaxrayError;
}

test('a valid dataset: sorted categories, labels both ways, x1y1x2y2 boxes, crowd/ignore kept as ignore, extra fields kept', async (t) => {
  const ds = await withDataset(() => {});
  t.deepEqual(ds.categories.map((c) => [c.id, c.name, c.label]), [
    [3, 'knife', 0],
    [7, 'scissors', 1],
  ]);
  t.is(ds.numClasses, 2);
  t.deepEqual(ds.labelToCategoryId, [3, 7]);
  t.is(ds.categoryIdToLabel.get(7), 1);
  const a = ds.imageById.get(1)!;
  t.true(path.isAbsolute(a.path) && a.path.endsWith(`${path.sep}a.png`));
  t.deepEqual([...a.annotations.boxes], [10, 5, 30, 15, 50, 20, 80, 45]);
  t.deepEqual([...a.annotations.labels], [0, 1]);
  t.deepEqual(a.annotations.categoryIds, [3, 7]);
  t.deepEqual([...a.annotations.ignore], [0, 0]);
  t.deepEqual([...a.annotations.areas], [200, 750]); // given area; w·h when absent
  t.deepEqual(a.annotations.extra[0], { overlap: 0.25 });
  const b = ds.imageById.get(2)!;
  t.deepEqual([...b.annotations.ignore], [1, 1]); // iscrowd: 1 and ignore: 1
  t.deepEqual(b.extra, { license: 3 });
  t.deepEqual(ds.report, { images: 2, annotations: 4, ignored: 2, clipped: [], dropped: [], imagesWithoutAnnotations: 0, warnings: [] });
});

test('missing top-level arrays are named', async (t) => {
  const err = await t.throwsAsync(parseCocoDataset({ images: [] }, { source: 'x.json', checkFiles: false }), { instanceOf: LaxrayError });
  t.deepEqual(err!.details, ['missing top-level field "annotations" (an array)', 'missing top-level field "categories" (an array)']);
  const err2 = await t.throwsAsync(parseCocoDataset([1, 2], { source: 'x.json' }), { instanceOf: LaxrayError });
  t.regex(err2!.message, /x\.json: the top level must be a JSON object/);
});

test('missing fields name the record and the field', async (t) => {
  await rejects(
    t,
    (c) => {
      delete c.annotations[1]!.bbox;
      delete c.images[0]!.width;
      delete c.categories[0]!.name;
      delete c.annotations[2]!.category_id;
    },
    [
      /^annotation id 11 \(annotations\[1\], image id 1\): missing field "bbox"/,
      /^image id 1 \(images\[0\]\): missing field "width"/,
      /^categories\[0\] \(id 7\): missing field "name"/,
      /^annotation id 12 \(annotations\[2\], image id 2\): missing field "category_id"/,
    ],
  );
});

test('wrong types are rejected with the value shown', async (t) => {
  const err = await rejects(
    t,
    (c) => {
      c.annotations[0]!.bbox = [10, 5, '20', 10];
      c.images[1]!.height = 80.5;
      c.annotations[1]!.id = 'eleven';
      c.annotations[2]!.iscrowd = 2;
      c.images[0]!.file_name = 42;
    },
    [
      /^annotation id 10 .*: "bbox" must be 4 finite numbers \[x, y, width, height\], got \[10,5,"20",10\]/,
      /^image id 2 \(images\[1\]\): "height" must be a positive integer, got 80\.5/,
      /^annotations\[1\]: "id" must be an integer, got "eleven"/,
      /^annotation id 12 .*: "iscrowd" must be 0 or 1, got 2/,
      /^image id 1 \(images\[0\]\): "file_name" must be a non-empty string, got 42/,
    ],
  );
  t.is(err.details.length, 5, 'all problems are collected, not just the first');
});

test('unknown category and image ids are listed with the known ids', async (t) => {
  await rejects(
    t,
    (c) => {
      c.annotations[0]!.category_id = 99;
      c.annotations[1]!.image_id = 5;
    },
    [/^annotation id 10 \(annotations\[0\], image id 1\): unknown category_id 99; known ids: 3, 7$/, /^annotation id 11 .*: image_id 5 is not an image of this dataset/],
  );
});

test('duplicate image, annotation and category ids are rejected', async (t) => {
  await rejects(
    t,
    (c) => {
      c.images.push({ id: 2, file_name: 'a.png', width: 100, height: 50 });
      c.annotations.push({ id: 10, image_id: 1, category_id: 3, bbox: [1, 1, 2, 2] });
      c.categories.push({ id: 3, name: 'knife again' });
    },
    [
      /^images\[2\]: duplicate image id 2 \(also images\[1\]\)/,
      /^annotations\[4\]: duplicate annotation id 10 \(also annotations\[0\]\)/,
      /^categories\[2\]: duplicate category id 3/,
    ],
  );
});

test('boxes of non-positive size: error names the box, drop and clip count it as dropped', async (t) => {
  const mutate = (c: ReturnType<typeof validCoco>): void => {
    c.annotations[0]!.bbox = [10, 5, 0, 10];
    c.annotations[1]!.bbox = [50, 20, 30, -1];
  };
  await rejects(t, mutate, [/^annotation id 10 .*: bbox \[10,5,0,10\] has non-positive size \(width 0, height 10\); fix the annotation, or load with boxPolicy 'clip' or 'drop'$/, /^annotation id 11 .*non-positive size \(width 30, height -1\)/], {
    boxPolicy: 'error',
  });
  for (const boxPolicy of ['drop', 'clip'] as const) {
    const ds = await withDataset(mutate, { boxPolicy });
    t.deepEqual(
      ds.report.dropped.map((d) => [d.annotationId, d.imageId]),
      [
        [10, 1],
        [11, 1],
      ],
    );
    t.is(ds.report.annotations, 2);
    t.is(ds.report.imagesWithoutAnnotations, 1);
    t.deepEqual(ds.imageById.get(1)!.annotations.ids, []);
  }
});

test('boxes reaching outside the image: clip (with exact clipped values), drop, error', async (t) => {
  // image 1 is 100×50; image 2 is 40×80.
  const mutate = (c: ReturnType<typeof validCoco>): void => {
    c.annotations[0]!.bbox = [-5, 10, 20, 10]; // x1 < 0 -> [0, 10, 15, 10]
    c.annotations[1]!.bbox = [90, 40, 20, 20]; // right and bottom -> [90, 40, 10, 10]
    c.annotations[2]!.bbox = [50, 0, 5, 5]; // wholly outside the 40-wide image -> nothing left, dropped
  };
  const clipped = await withDataset(mutate, { boxPolicy: 'clip' });
  t.deepEqual(
    clipped.report.clipped.map((c) => [c.annotationId, c.before, c.after]),
    [
      [10, [-5, 10, 20, 10], [0, 10, 15, 10]],
      [11, [90, 40, 20, 20], [90, 40, 10, 10]],
    ],
  );
  t.deepEqual(clipped.report.dropped.map((d) => d.annotationId), [12]);
  t.regex(clipped.report.dropped[0]!.reason, /reaches outside its 40×80 image, nothing left inside it after clipping/);
  t.deepEqual([...clipped.imageById.get(1)!.annotations.boxes], [0, 10, 15, 20, 90, 40, 100, 50]);

  const dropped = await withDataset(mutate, { boxPolicy: 'drop' });
  t.deepEqual(dropped.report.dropped.map((d) => d.annotationId), [10, 11, 12]);
  t.is(dropped.report.clipped.length, 0);
  t.is(dropped.report.annotations, 1);

  await rejects(t, mutate, [/^annotation id 10 .*: bbox \[-5,10,20,10\] reaches outside its 100×50 image/, /^annotation id 11 /, /^annotation id 12 /], { boxPolicy: 'error' });
});

test('a box touching the image edge exactly is inside', async (t) => {
  const ds = await withDataset((c) => (c.annotations[0]!.bbox = [0, 0, 100, 50]), { boxPolicy: 'error' });
  t.deepEqual([...ds.imageById.get(1)!.annotations.boxes.subarray(0, 4)], [0, 0, 100, 50]);
});

test('files missing on disk are listed with the path looked at', async (t) => {
  await rejects(t, (c) => (c.images[1]!.file_name = 'sub/nope.png'), [/^image id 2: file "sub\/nope\.png" not found at .*sub\/nope\.png; check the image root/]);
  // ... unless the check is off.
  const ds = await withDataset((c) => (c.images[1]!.file_name = 'sub/nope.png'), { checkFiles: false });
  t.is(ds.images.length, 2);
});

test('verifyImages reads headers: unreadable files and wrong sizes are listed', async (t) => {
  const dir = tempDir('data');
  await writeValidImages(dir);
  await writeFile(path.join(dir, 'sub', 'b.png'), 'not a png');
  const coco = validCoco();
  coco.images[0]!.height = 51;
  await writeJson(path.join(dir, 'c.json'), coco);
  t.is((await loadCocoDataset(path.join(dir, 'c.json'))).images.length, 2, 'off by default');
  const err = await t.throwsAsync(loadCocoDataset(path.join(dir, 'c.json'), { verifyImages: true }), { instanceOf: LaxrayError });
  t.deepEqual(err!.details.length, 2);
  t.regex(err!.details[0]!, /^image id 1: file a\.png is 100×50 but the dataset says 100×51/);
  t.regex(err!.details[1]!, /^image id 2: file sub\/b\.png is not a readable image \(.*\); replace or remove it$/);
});

test('file names escaping the image root are rejected', async (t) => {
  await rejects(
    t,
    (c) => {
      c.images[0]!.file_name = '../a.png';
      c.images[1]!.file_name = '/etc/passwd';
      c.images.push({ id: 3, file_name: 'sub/../../x.png', width: 5, height: 5 });
    },
    [
      /^image id 1 \(images\[0\]\): file_name "\.\.\/a\.png" leaves the image root/,
      /^image id 2 \(images\[1\]\): file_name "\/etc\/passwd" is an absolute path/,
      /^image id 3 \(images\[2\]\): file_name "sub\/\.\.\/\.\.\/x\.png" leaves the image root/,
    ],
  );
});

test('malformed JSON names the file, line and column', async (t) => {
  const dir = tempDir('data');
  const file = path.join(dir, 'broken.json');
  await writeFile(file, '{\n  "images": [],\n  "annotations": [}\n');
  const err = await t.throwsAsync(loadCocoDataset(file), { instanceOf: LaxrayError });
  t.is(err!.code, 'INVALID_DATASET');
  t.regex(err!.message, /broken\.json:3:19: the COCO dataset file is not valid JSON at line 3, column 19: expected a value, found '\}'/);
  await writeFile(file, '{"images": [');
  const err2 = await t.throwsAsync(loadCocoDataset(file), { instanceOf: LaxrayError });
  t.regex(err2!.message, /broken\.json:1:13: the COCO dataset file is not valid JSON at line 1, column 13: expected a value, found end of file/);
  const err3 = await t.throwsAsync(loadCocoDataset(path.join(dir, 'absent.json')), { instanceOf: LaxrayError });
  t.is(err3!.code, 'IO_ERROR');
  t.regex(err3!.message, /cannot read the COCO dataset file .*absent\.json: no such file; check the path/);
});

test('imageRoot option points file names elsewhere than the JSON folder', async (t) => {
  const dir = tempDir('data');
  await writeValidImages(path.join(dir, 'images'));
  await writeJson(path.join(dir, 'annotations', 'train.json'), validCoco());
  const err = await t.throwsAsync(loadCocoDataset(path.join(dir, 'annotations', 'train.json')), { instanceOf: LaxrayError });
  t.is(err!.details.length, 2);
  const ds = await loadCocoDataset(path.join(dir, 'annotations', 'train.json'), { imageRoot: path.join(dir, 'images') });
  t.is(ds.imageById.get(2)!.path, path.join(dir, 'images', 'sub', 'b.png'));
});

test('subsetDataset keeps the chosen images and rejects unknown ids', async (t) => {
  const ds = await withDataset(() => {});
  const sub = subsetDataset(ds, [2]);
  t.deepEqual(sub.images.map((im) => im.id), [2]);
  t.is(sub.report.annotations, 2);
  t.is(sub.report.ignored, 2);
  t.deepEqual(sub.labelToCategoryId, [3, 7]);
  const err = t.throws(() => subsetDataset(ds, [2, 9]), { instanceOf: LaxrayError });
  t.regex(err!.message, /image id\(s\) not in the dataset: 9/);
});

test('a symlink inside the image root that leads outside it is refused, unless following such links is asked for', async (t) => {
  const dir = tempDir('data');
  const outside = tempDir('outside');
  await writeValidImages(dir);
  await writeValidImages(outside);
  // sub/b.png -> a file outside the root; a.png stays a plain file; c.png -> a.png (inside: fine)
  await rm(path.join(dir, 'sub', 'b.png'));
  await symlink(path.join(outside, 'sub', 'b.png'), path.join(dir, 'sub', 'b.png'));
  await symlink(path.join(dir, 'a.png'), path.join(dir, 'c.png'));
  const coco = validCoco();
  coco.images.push({ id: 3, file_name: 'c.png', width: 100, height: 50 });
  await writeJson(path.join(dir, 'c.json'), coco);
  const err = await t.throwsAsync(loadCocoDataset(path.join(dir, 'c.json')), { instanceOf: LaxrayError });
  t.is(err!.code, 'INVALID_DATASET');
  t.deepEqual(err!.details.length, 1, JSON.stringify(err!.details));
  t.regex(err!.details[0]!, /^image id 2: file "sub\/b\.png" is a link to .*laxray-outside-.*, outside the image root .*; copy the file into the root, or load with followSymlinks: true/);
  const ds = await loadCocoDataset(path.join(dir, 'c.json'), { followSymlinks: true });
  t.is(ds.images.length, 3);
  // a root that is itself a link is fine: the real root is compared
  await symlink(dir, path.join(outside, 'root-link'));
  await rm(path.join(dir, 'sub', 'b.png'));
  await writeFile(path.join(dir, 'sub', 'b.png'), await readFile(path.join(outside, 'sub', 'b.png')));
  t.is((await loadCocoDataset(path.join(dir, 'c.json'), { imageRoot: path.join(outside, 'root-link') })).images.length, 3);
});

test('a folder or a FIFO named as an image is reported as what it is, not as "not found"', async (t) => {
  const dir = tempDir('data');
  await writeValidImages(dir);
  await mkdir(path.join(dir, 'folder.png'));
  execFileSync('mkfifo', [path.join(dir, 'pipe.png')]);
  const coco = validCoco();
  coco.images.push({ id: 3, file_name: 'folder.png', width: 5, height: 5 }, { id: 4, file_name: 'pipe.png', width: 5, height: 5 });
  await writeJson(path.join(dir, 'c.json'), coco);
  const err = await t.throwsAsync(loadCocoDataset(path.join(dir, 'c.json')), { instanceOf: LaxrayError });
  t.deepEqual(err!.details, [
    `image id 3: file "folder.png" at ${path.join(dir, 'folder.png')} is a folder, not an image file`,
    `image id 4: file "pipe.png" at ${path.join(dir, 'pipe.png')} is a FIFO (named pipe), not an image file`,
  ]);
});

test('verifyDatasetImages lists every bad file in dataset order and marks a good dataset verified', async (t) => {
  const dir = tempDir('data');
  await writeValidImages(dir);
  const coco = validCoco();
  await writeJson(path.join(dir, 'c.json'), coco);
  const ds = await loadCocoDataset(path.join(dir, 'c.json'));
  t.false(ds.imagesVerified === true);
  await writeFile(path.join(dir, 'a.png'), Buffer.from('\x89PNG\r\n\x1a\n garbage'));
  await writeFile(path.join(dir, 'sub', 'b.png'), Buffer.alloc(0));
  const err = await t.throwsAsync(verifyDatasetImages(ds), { instanceOf: LaxrayError });
  t.is(err!.code, 'INVALID_DATASET');
  t.is(err!.details.length, 2);
  t.regex(err!.details[0]!, /^image id 1: file a\.png is not a readable image/);
  t.regex(err!.details[1]!, /^image id 2: file sub\/b\.png is not a readable image/);
  await writeValidImages(dir);
  await verifyDatasetImages(ds);
  t.true(ds.imagesVerified);
  t.true((await loadCocoDataset(path.join(dir, 'c.json'), { verifyImages: true })).imagesVerified);
});

test('deeply nested or truncated deep JSON is an INVALID_DATASET error, never a RangeError', async (t) => {
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  const nested = await t.throwsAsync(parseCocoDataset(JSON.parse(`{"images": [{"id": ${deep(100_000)}}], "annotations": [], "categories": []}`)), { instanceOf: LaxrayError });
  t.is(nested!.code, 'INVALID_DATASET');
  const dir = tempDir('data');
  await writeFile(path.join(dir, 'cut.json'), '{"images": ' + '['.repeat(100_000));
  const cut = await t.throwsAsync(loadCocoDataset(path.join(dir, 'cut.json')), { instanceOf: LaxrayError });
  t.is(cut!.code, 'INVALID_DATASET');
});
