// OPIXray → COCO: exact conversion of corners to [x, y, w, h], sizes from the
// files, every bad line reported with file:line, box policies, the CLI.
import test from 'ava';
import path from 'node:path';
import { Command } from 'commander';
import { register as registerConvert } from '../lib/cli/commands/convert.js';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { LaxrayError } from '../lib/errors.js';
import { loadCocoDataset } from '../lib/data/coco.js';
import { convertOpixray, OPIXRAY_CLASSES, writeOpixrayCoco } from '../lib/data/opixray.js';
import { solidImage } from './fixtures/data/make.js';
import { tempDir } from './helpers/temp_dir.js';

/** OPIXray-like layout: 009000.jpg 120×80, 009001.jpg 60×90, 009002.png 50×50 (no annotation file). */
async function opixray(lines: Record<string, string>): Promise<{ dir: string; images: string; annotations: string }> {
  const dir = tempDir('opixray');
  const images = path.join(dir, 'train', 'train_image');
  const annotations = path.join(dir, 'train', 'train_annotation');
  await solidImage(path.join(images, '009000.jpg'), 120, 80);
  await solidImage(path.join(images, '009001.jpg'), 60, 90);
  await solidImage(path.join(images, '009002.png'), 50, 50);
  await mkdir(annotations, { recursive: true });
  for (const [name, text] of Object.entries(lines)) await writeFile(path.join(annotations, name), text);
  return { dir, images, annotations };
}

const good = {
  '009000.txt': '009000.jpg Straight_Knife 20 10 50 40\r\n009000.jpg Scissor 0 0 120 80\n',
  '009001.txt': '009001.jpg Multi-tool_Knife 5.5 6 25 30.25\n\n',
};

test('converts corners to COCO [x, y, w, h] with sizes from the image files', async (t) => {
  const d = await opixray(good);
  const { coco, report } = await convertOpixray({ imagesDir: d.images, annotationsDir: d.annotations });
  t.deepEqual(coco.categories.map((c) => [c.id, c.name]), OPIXRAY_CLASSES.map((c, i) => [i + 1, c]));
  t.deepEqual(coco.images, [
    { id: 1, file_name: '009000.jpg', width: 120, height: 80 },
    { id: 2, file_name: '009001.jpg', width: 60, height: 90 },
    { id: 3, file_name: '009002.png', width: 50, height: 50 },
  ]);
  t.deepEqual(
    coco.annotations.map((a) => [a.id, a.image_id, a.category_id, a.bbox, a.area, a.iscrowd]),
    [
      [1, 1, 2, [20, 10, 30, 30], 900, 0],
      [2, 1, 3, [0, 0, 120, 80], 9600, 0],
      [3, 2, 5, [5.5, 6, 19.5, 24.25], 472.875, 0],
    ],
  );
  t.deepEqual(report.perClass, { Folding_Knife: 0, Straight_Knife: 1, Scissor: 1, Utility_Knife: 0, 'Multi-tool_Knife': 1 });
  t.deepEqual(report.imagesWithoutAnnotations, ['009002.png']);
  t.deepEqual([report.clipped.length, report.dropped.length, report.skipped.length], [0, 0, 0]);
});

test('the written file loads as a COCO dataset with the same boxes', async (t) => {
  const d = await opixray(good);
  const out = path.join(d.dir, 'annotations', 'train.json');
  await writeOpixrayCoco({ imagesDir: d.images, annotationsDir: d.annotations, out });
  const ds = await loadCocoDataset(out, { imageRoot: d.images, boxPolicy: 'error' });
  t.deepEqual([...ds.imageById.get(1)!.annotations.boxes], [20, 10, 50, 40, 0, 0, 120, 80]);
  t.deepEqual([...ds.imageById.get(1)!.annotations.labels], [1, 2]);
  t.deepEqual(ds.labelToCategoryId, [1, 2, 3, 4, 5]);
});

test('every bad line is reported with file:line (strict), or skipped and listed (lenient)', async (t) => {
  const d = await opixray({
    '009000.txt': ['009000.jpg Straight_Knife 20 10 50 40', '009000.jpg Sword 1 2 3 4', '009000.jpg scissor 1 2 3 4', '009000.jpg Scissor 1 two 3 4', '009000.jpg Scissor 1 2 3'].join('\n'),
    '009001.txt': '009999.jpg Scissor 1 2 3 4\n',
  });
  const err = await t.throwsAsync(convertOpixray({ imagesDir: d.images, annotationsDir: d.annotations }), { instanceOf: LaxrayError });
  t.is(err!.code, 'INVALID_DATASET');
  const f0 = path.join(d.annotations, '009000.txt');
  const f1 = path.join(d.annotations, '009001.txt');
  t.deepEqual(err!.details, [
    `${f0}:2: unknown class "Sword"; OPIXray classes: ${OPIXRAY_CLASSES.join(', ')}`,
    `${f0}:3: unknown class "scissor" (did you mean Scissor?); OPIXray classes: ${OPIXRAY_CLASSES.join(', ')}`,
    `${f0}:4: box coordinates must be numbers, got "two"`,
    `${f0}:5: expected "<image_name> <class_name> x1 y1 x2 y2" (6 fields), got 5: "009000.jpg Scissor 1 2 3"`,
    `${f1}:1: image 009999.jpg is not in ${d.images}`,
  ]);
  t.regex(err!.message, /^OPIXray conversion found 5 problems: .*009000\.txt:2: unknown class "Sword".*\(and 4 more, listed in details\)$/);
  const lenient = await convertOpixray({ imagesDir: d.images, annotationsDir: d.annotations, strict: false });
  t.is(lenient.report.skipped.length, 5);
  t.is(lenient.coco.annotations.length, 1);
});

test('boxes outside the image: clipped (counted), dropped, or errors; inverted corners are non-positive', async (t) => {
  const d = await opixray({
    // 009000.jpg is 120×80
    '009000.txt': ['009000.jpg Scissor -10 5 30 90', '009000.jpg Scissor 130 5 140 20', '009000.jpg Scissor 50 40 20 60'].join('\n'),
  });
  const clip = await convertOpixray({ imagesDir: d.images, annotationsDir: d.annotations });
  t.deepEqual(clip.report.clipped.map((c) => [c.before, c.after]), [[[-10, 5, 40, 85], [0, 5, 30, 75]]]);
  t.deepEqual(clip.report.dropped.map((x) => x.where.split(':').pop()), ['2', '3']);
  t.regex(clip.report.dropped[1]!.reason, /box 50 40 20 60 has non-positive size/);
  t.deepEqual(clip.coco.annotations.map((a) => a.bbox), [[0, 5, 30, 75]]);
  const drop = await convertOpixray({ imagesDir: d.images, annotationsDir: d.annotations, boxPolicy: 'drop' });
  t.is(drop.report.dropped.length, 3);
  const err = await t.throwsAsync(convertOpixray({ imagesDir: d.images, annotationsDir: d.annotations, boxPolicy: 'error' }), { instanceOf: LaxrayError });
  t.is(err!.details.length, 3);
  t.regex(err!.details[0]!, /009000\.txt:1: box -10 5 30 90 reaches outside its 120×80 image$/);
});

test('a line naming another extension than the file matches the file by stem, with a warning', async (t) => {
  const d = await opixray({ '009002.txt': '009002.jpg Utility_Knife 1 2 11 12\n' }); // the file is 009002.png
  const { coco, report } = await convertOpixray({ imagesDir: d.images, annotationsDir: d.annotations });
  t.deepEqual(coco.annotations.map((a) => [a.image_id, a.bbox]), [[3, [1, 2, 10, 10]]]);
  t.regex(report.warnings[0]!, /009002\.txt:1: names 009002\.jpg; using 009002\.png, the only file with that stem$/);
});

test('an unreadable image is reported; an image list restricts by name or stem', async (t) => {
  const d = await opixray(good);
  await writeFile(path.join(d.images, '009003.jpg'), 'not a jpeg');
  const err = await t.throwsAsync(convertOpixray({ imagesDir: d.images, annotationsDir: d.annotations }), { instanceOf: LaxrayError });
  t.regex(err!.details[0]!, /image .*009003\.jpg cannot be read: .*; replace or remove it/);
  const some = await convertOpixray({ imagesDir: d.images, annotationsDir: d.annotations, imageList: ['009001', '009000.jpg'] });
  t.deepEqual(some.coco.images.map((i) => i.file_name), ['009000.jpg', '009001.jpg']);
  t.is(some.coco.annotations.length, 3);
  const missing = await t.throwsAsync(convertOpixray({ imagesDir: d.images, annotationsDir: d.annotations, imageList: ['123456'] }));
  t.regex(missing!.message, /the image list names 123456, which is not in/);
});

/** Runs `laxray convert ...` in-process with only the convert command registered; returns stdout. */
async function cli(args: string[]): Promise<string> {
  const program = new Command('laxray').exitOverride();
  program.configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerConvert(program.command('convert'));
  for (const c of program.commands) {
    c.exitOverride();
    for (const sub of c.commands) sub.exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  }
  let out = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => {
    out += chunk;
    return true;
  }) as typeof process.stdout.write;
  try {
    await program.parseAsync(args, { from: 'user' });
  } finally {
    process.stdout.write = write;
  }
  return out;
}

test.serial('CLI: laxray convert opixray writes the JSON and reports; bad input is an error naming the problem', async (t) => {
  const d = await opixray(good);
  const out = path.join(d.dir, 'coco.json');
  const report = JSON.parse(await cli(['convert', 'opixray', '--images', d.images, '--annotations', d.annotations, '-o', out, '--json'])) as { images: number; annotations: number };
  t.like(report, { images: 3, annotations: 3 });
  t.is((JSON.parse(await readFile(out, 'utf8')) as { annotations: unknown[] }).annotations.length, 3);
  const text = await cli(['convert', 'opixray', '--images', d.images, '--annotations', d.annotations, '-o', out]);
  t.regex(text, /^wrote .*coco\.json: 3 images, 3 annotations \(Folding_Knife 0, Straight_Knife 1, Scissor 1, Utility_Knife 0, Multi-tool_Knife 1\)/);
  await writeFile(path.join(d.annotations, '009001.txt'), '009001.jpg Sword 1 2 3 4\n');
  const bad = await t.throwsAsync(cli(['convert', 'opixray', '--images', d.images, '--annotations', d.annotations, '-o', out]), { instanceOf: LaxrayError });
  t.regex(bad!.message, /^OPIXray conversion found 1 problem: .*009001\.txt:1: unknown class "Sword"/);
  const usage = await t.throwsAsync(cli(['convert', 'opixray', '--images', d.images, '-o', out, '--box-policy', 'keep']));
  t.regex(usage!.message, /--box-policy.*keep.*invalid|Allowed choices are clip, drop, error/);
  const noAnnotations = await t.throwsAsync(cli(['convert', 'opixray', '--images', d.images, '-o', out]), { instanceOf: LaxrayError });
  t.regex(noAnnotations!.message, /say where the data is: --images <dir> and --annotations <dir>, or --root/);
  // --root + --split finds OPIXray's own layout.
  await writeFile(path.join(d.annotations, '009001.txt'), '009001.jpg Scissor 1 2 3 4\n');
  t.like(JSON.parse(await cli(['convert', 'opixray', '--root', d.dir, '--split', 'train', '-o', out, '--json'])), { images: 3, annotations: 3 });
});
