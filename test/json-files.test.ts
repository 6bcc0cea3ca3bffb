// The JSON files laxray reads besides configs, datasets and detections — the
// challenging subset's thresholds, a synthetic set's manifest, a study's plan
// and run records, a run's checkpoint pointer — all go through lib/json_file.ts:
// a damaged one is a LaxrayError with the reader's code, naming
// file:line:column (checked against hand-written files whose broken spot is
// known) and what to do about it.
import test from 'ava';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { readLatestPointer } from '../lib/checkpoint/run_dir.js';
import { resolveConfig } from '../lib/config/index.js';
import { loadCocoDataset } from '../lib/data/index.js';
import { readSynthManifest } from '../lib/data/synth/manifest.js';
import { LaxrayError } from '../lib/errors.js';
import { readError } from '../lib/json_file.js';
import { existingBenchmark } from '../lib/study/benchmark.js';
import { runStudy, studyProfile } from '../lib/study/index.js';
import { readRunRecord, runPaths, type RunRecord } from '../lib/study/run.js';
import { runMetrics } from '../lib/study/metrics.js';
import { challengingImageIds, evaluateDetector, Trainer, type DetectingModel, type TrainableDetector } from '../lib/train/index.js';
import { validCoco, writeJson, writeValidImages } from './fixtures/data/make.js';
import { tempDir } from './helpers/temp_dir.js';

/** Writes `text` to `dir`/`name` (folders made as needed); returns the path. */
function write(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

// Line 3, column 37 is the '}' after the trailing comma.
const TRAILING_COMMA = '{\n  "image_ids": [1, 2],\n  "thresholds": {"minOverlap": 0.35,}\n}\n';

test('a read error says what to do: the reader\'s hint for a file laxray wrote, else how to find the file', (t) => {
  const enoent = Object.assign(new Error('ENOENT: no such file or directory'), { code: 'ENOENT' });
  t.is(readError('/runs/a/done.json', { what: 'study run record', hint: 'delete it to evaluate the run again' }, enoent).message, 'cannot read the study run record file /runs/a/done.json: no such file; delete it to evaluate the run again');
  t.is(readError('/x/gt.json', { what: 'ground-truth' }, enoent).message, 'cannot read the ground-truth file /x/gt.json: no such file; check the path');
  const odd = Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
  t.is(readError('/x/gt.json', { what: 'ground-truth' }, odd).message, 'cannot read the ground-truth file /x/gt.json: EIO: i/o error, read');
  t.is(readError('/x/gt.json', { what: 'ground-truth' }, odd).code, 'IO_ERROR');
});

test.serial('challenging.json: its thresholds choose the subset, none means the defaults, a damaged one is INVALID_DATASET before any detection', async (t) => {
  // validCoco: image 1 has an annotation with overlap 0.25, below the default 0.35
  const dir = tempDir('challenging');
  await writeValidImages(dir);
  await writeJson(path.join(dir, 'coco.json'), validCoco());
  const dataset = await loadCocoDataset(path.join(dir, 'coco.json'));
  t.deepEqual(challengingImageIds(dataset), []);
  write(dir, 'challenging.json', JSON.stringify({ image_ids: [1], thresholds: { minOverlap: 0.2 } }));
  t.deepEqual(challengingImageIds(dataset), [1]);

  const file = write(dir, 'challenging.json', TRAILING_COMMA);
  const expected = `${file}:3:37: the challenging-subset file is not valid JSON at line 3, column 37: trailing comma before '}'; laxray synth writes it next to the dataset; fix it, or delete it to use the default thresholds`;
  const error = t.throws(() => challengingImageIds(dataset), { instanceOf: LaxrayError });
  t.is(error!.code, 'INVALID_DATASET');
  t.is(error!.message, expected);

  let detections = 0;
  const model: DetectingModel = {
    config: resolveConfig({ classes: dataset.categories.map((c) => c.name) }),
    detect: async () => {
      detections++;
      return [];
    },
  };
  await t.throwsAsync(evaluateDetector(model, dataset), { instanceOf: LaxrayError, message: expected });
  t.is(detections, 0, 'the damaged file is reported before the work');
  // and a training run with it as its validation set stops before its first step, not at its first validation
  const detector = model as unknown as TrainableDetector;
  t.throws(() => new Trainer({ detector, train: dataset, val: dataset, runDir: tempDir('challenging-run') }), { instanceOf: LaxrayError, message: expected });
});

test('synth.json: none is no set, a damaged one is INVALID_DATASET naming its position (the study then says so, not "another recipe")', (t) => {
  const dir = tempDir('synth-manifest');
  t.is(readSynthManifest(dir), null);
  // line 3, column 3: no comma before "count"
  const file = write(dir, 'synth.json', '{\n  "seed": 0\n  "count": 10\n}\n');
  const expected = `${file}:3:3: the synthetic set manifest file is not valid JSON at line 3, column 3: expected ',' or '}' after a property value, found '"'; it was not written by laxray synth or is damaged; delete the folder to generate the set again`;
  const error = t.throws(() => readSynthManifest(dir), { instanceOf: LaxrayError });
  t.is(error!.code, 'INVALID_DATASET');
  t.is(error!.message, expected);
  t.throws(() => existingBenchmark(dir, studyProfile('test').benchmark), { instanceOf: LaxrayError, message: expected });
});

test.serial('a study folder: a damaged study.json is IO_ERROR naming its position, before anything runs', async (t) => {
  const out = tempDir('study-plan');
  const file = write(out, 'study.json', '{"format": "laxray-study", "version": 1, "profile": test}');
  const study = runStudy({ out, profile: 'test', reportOnly: true });
  const error = await t.throwsAsync(study.next(), { instanceOf: LaxrayError });
  t.is(error!.code, 'IO_ERROR');
  t.is(error!.message, `${file}:1:53: the study plan file is not valid JSON at line 1, column 53: expected a value, found 't'; it was not written by laxray study or is damaged`);
});

test('a study run: a damaged done.json is IO_ERROR naming its position and saying to delete it', async (t) => {
  const paths = runPaths(tempDir('study-run'), 'atss', 0);
  write(paths.testDir, 'done.json', '{"format": "laxray-study-run", "version": 1,\n "method": "atss"\n');
  const error = await t.throwsAsync(readRunRecord(paths), { instanceOf: LaxrayError });
  t.is(error!.code, 'IO_ERROR');
  t.is(error!.message, `${paths.done}:3:1: the study run record file is not valid JSON at line 3, column 1: expected ',' or '}' after a property value, found end of file; delete it to evaluate the run again`);
});

test('a study run: detections that are not a list are IO_ERROR naming the file and saying how to write them anew', async (t) => {
  const paths = runPaths(tempDir('study-metrics'), 'atss', 0);
  write(paths.testDir, path.basename(paths.detections), '{"image_id": 1}\n');
  const record = { files: { detections: paths.detections, detectionsLaOff: null, laWeights: null } } as unknown as RunRecord;
  const error = await t.throwsAsync(runMetrics(paths, record, {} as never, {} as never, []), { instanceOf: LaxrayError });
  t.is(error!.code, 'IO_ERROR');
  t.is(error!.message, `${paths.detections} is not a list of COCO detections; delete the run's test/done.json to evaluate it again`);
});

test('a run directory: a damaged checkpoint pointer is CHECKPOINT_ERROR naming its position; one holding null names the field', async (t) => {
  const runDir = tempDir('pointer');
  const file = write(runDir, path.join('checkpoints', 'latest.json'), '{"weights": "iter_2.safetensors", "iteration": 2]');
  const error = await t.throwsAsync(readLatestPointer(runDir), { instanceOf: LaxrayError });
  t.is(error!.code, 'CHECKPOINT_ERROR');
  t.is(error!.message, `${file}:1:49: the checkpoint pointer file is not valid JSON at line 1, column 49: expected ',' or '}' after a property value, found ']'; it was not written by laxray or is damaged`);
  write(runDir, path.join('checkpoints', 'latest.json'), 'null');
  await t.throwsAsync(readLatestPointer(runDir), { instanceOf: LaxrayError, message: `${file}: "weights" must be a file name in the checkpoints folder, got undefined` });
});
