// `laxray eval` end to end: spawns bin/laxray.js as a user would.
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { laxray as runLaxray } from './helpers/cli.js';
import { fixture as fixturePath, REPO_ROOT } from './helpers/paths.js';
import { tempDir } from './helpers/temp_dir.js';

const laxray = (args: string[]) => runLaxray(args, { cwd: REPO_ROOT });

const dir = tempDir('eval-cli');
const fixture = JSON.parse(readFileSync(fixturePath('cocoeval', 'case-1.json'), 'utf8')) as {
  groundTruth: { images: { id: number }[] };
  detections: { image_id: number }[];
  expectedStats: number[];
  statsOrder: string[];
};
const gtPath = path.join(dir, 'gt.json');
const detPath = path.join(dir, 'results.json');
writeFileSync(gtPath, JSON.stringify(fixture.groundTruth));
writeFileSync(detPath, JSON.stringify(fixture.detections));

test('--json prints exactly one JSON object with the 12 stats by name (pycocotools numbers)', async (t) => {
  const { code, stdout } = await laxray(['eval', '--gt', gtPath, '--detections', detPath, '--json']);
  t.is(code, 0);
  t.is(stdout.trim().split('\n').length, 1);
  const out = JSON.parse(stdout) as { stats: Record<string, number>; perClass: unknown[]; perClassAP50: unknown[]; mAP50: number; counts: { images: number } };
  t.deepEqual(Object.keys(out.stats), ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR1', 'AR10', 'AR100', 'ARs', 'ARm', 'ARl']);
  fixture.statsOrder.forEach((name, i) => t.true(Math.abs(out.stats[name]! - fixture.expectedStats[i]!) <= 1e-9, name));
  t.is(out.perClass.length, 3);
  t.is(out.perClassAP50.length, 3);
  t.is(typeof out.mAP50, 'number');
  t.is(out.counts.images, new Set(fixture.groundTruth.images.map((i) => i.id)).size);
});

test('without --json it prints the summary and the per-class tables', async (t) => {
  const { code, stdout, stderr } = await laxray(['eval', '--gt', gtPath, '--detections', detPath]);
  t.is(code, 0);
  t.regex(stdout, / Average Precision {2}\(AP\) @\[ IoU=0\.50:0\.95 \| area= {3}all \| maxDets=100 \] = 0\.107/);
  t.regex(stdout, / Average Recall {5}\(AR\) @\[ IoU=0\.50:0\.95 \| area= large \| maxDets=100 \] = 0\.455/);
  t.regex(stdout, /Per class \(%\):\nclass +id +gt +dets +AP +AP50/);
  t.regex(stdout, /Per-class AP at IoU 0\.5, OPIXray-style \(PASCAL VOC evaluation, area under the precision envelope, all detections, %\):/);
  t.regex(stdout, /\nmAP50 +\d+\.\d\n/);
  // the fixture repeats image ids: tolerated with a warning on stderr, never on stdout
  t.regex(stderr, /warning: .*appear more than once/);
});

test('--image-ids restricts the evaluation to a subset', async (t) => {
  const ids = [...new Set(fixture.groundTruth.images.map((i) => i.id))].sort((a, b) => a - b).slice(0, 20);
  const idsPath = path.join(dir, 'ids.json');
  writeFileSync(idsPath, JSON.stringify(ids));
  const { code, stdout } = await laxray(['eval', '--gt', gtPath, '--detections', detPath, '--image-ids', idsPath, '--opixray-method', '11point', '--json']);
  t.is(code, 0);
  const out = JSON.parse(stdout) as { imageIds: number[]; counts: { images: number }; stats: { AP: number }; params: { opixrayMethod: string } };
  t.is(out.params.opixrayMethod, '11point');
  t.deepEqual(out.imageIds, ids);
  t.is(out.counts.images, 20);
  t.not(out.stats.AP, fixture.expectedStats[0]);
});

test('bad arguments and bad inputs exit 1 with a message saying what to do', async (t) => {
  const noDets = await laxray(['eval', '--gt', gtPath]);
  t.is(noDets.code, 1);
  t.regex(noDets.stderr, /laxray eval needs --detections <results\.json>/);
  t.is(noDets.stdout, '');

  const missing = await laxray(['eval', '--gt', path.join(dir, 'nope.json'), '--detections', detPath, '--json']);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /cannot read the ground-truth file .*nope\.json: no such file; check the path/);
  t.is(missing.stdout, '');

  const strangers = path.join(dir, 'strangers.json');
  writeFileSync(strangers, JSON.stringify([{ image_id: 4242, category_id: 11, bbox: [0, 0, 1, 1], score: 0.5 }, { image_id: 1000, category_id: 77, bbox: [0, 0, 1, 1], score: 0.5 }]));
  const unknown = await laxray(['eval', '--gt', gtPath, '--detections', strangers]);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /strangers\.json: 2 problems found/);
  t.regex(unknown.stderr, / {2}- image_id 4242 is not an image of .*gt\.json \(used by detections\[0\]\)/);
  t.regex(unknown.stderr, / {2}- category_id 77 is not a category of .*gt\.json \(known: 11, 12, 13; used by detections\[1\]\)/);

  const badMethod = await laxray(['eval', '--gt', gtPath, '--detections', detPath, '--opixray-method', 'voc12']);
  t.is(badMethod.code, 1);
  t.regex(badMethod.stderr, /--opixray-method must be "area" or "11point", got "voc12"/);

  const unknownOption = await laxray(['eval', '--gt', gtPath, '--detections', detPath, '--bogus']);
  t.is(unknownOption.code, 1);
  t.regex(unknownOption.stderr, /unknown option '--bogus'/);
});
