import test from 'ava';
import { existsSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { laxray, laxrayInProcess } from './helpers/cli.js';
import { tempDir } from './helpers/temp_dir.js';

test('laxray synth --json writes the dataset and prints one JSON object', async (t) => {
  const out = tempDir('synth-cli');
  const { code, stdout, stderr } = await laxray(['synth', '--out', out, '--count', '4', '--seed', '3', '--width', '160', '--height', '120', '--objects-per-image', '2', '--overlap-rate', '1', '--raw', '--workers', '1', '--preview', path.join(out, 'sheet.png'), '--json']);
  t.is(code, 0, stderr);
  const result = JSON.parse(stdout);
  t.is(result.count, 4);
  t.is(result.stats.images, 4);
  t.true(result.stats.objects >= 4);
  const coco = JSON.parse(await readFile(path.join(out, 'all.json'), 'utf8'));
  t.is(coco.images.length, 4);
  t.deepEqual(coco.images[0], { id: 1, file_name: 'images/000001.png', width: 160, height: 120, raw_high: 'raw/000001_high.png', raw_low: 'raw/000001_low.png' });
  const manifest = JSON.parse(await readFile(path.join(out, 'synth.json'), 'utf8'));
  t.is(manifest.recipe.overlapRate, 1);
  t.is(manifest.recipe.objectsPerImage, 2);
  t.true(Array.isArray(JSON.parse(await readFile(path.join(out, 'test_challenging_ids.json'), 'utf8'))));
  t.is(result.preview, path.join(out, 'sheet.png'));
  t.true((await readFile(path.join(out, 'sheet.png'))).subarray(1, 4).equals(Buffer.from('PNG')));
});

test('laxray synth rejects bad arguments with a message and a non-zero exit code', async (t) => {
  const count = await laxray(['synth', '--out', 'x', '--count', 'many']);
  t.regex(count.stderr, /--count must be an integer/);
  t.not(count.code, 0);
  const rate = await laxray(['synth', '--out', 'x', '--count', '2', '--overlap-rate', '1.5']);
  t.regex(rate.stderr, /--overlap-rate must be a number in \[0, 1\]/);
  t.not(rate.code, 0);
});

test.serial('--recipe: a file that is not JSON is named with its line and column; a recipe that is no object says what one is', async (t) => {
  const dir = tempDir('synth-recipe');
  // line 3, column 18: a number written without its leading 0
  const bad = path.join(dir, 'recipe.json');
  writeFileSync(bad, '{\n  "width": 256,\n  "overlapRate": .5\n}\n');
  const syntax = await laxrayInProcess(['synth', '--out', path.join(dir, 'out'), '--count', '2', '--recipe', bad]);
  t.is(syntax.code, 1);
  t.is(syntax.stderr.split('\n')[0], `laxray: ${bad}:3:18: the recipe file is not valid JSON at line 3, column 18: expected a value, found '.'; fix the file (JSON allows no comments or trailing commas; is it truncated?)`);
  const list = path.join(dir, 'list.json');
  writeFileSync(list, '[256, 192]');
  const notObject = await laxrayInProcess(['synth', '--out', path.join(dir, 'out'), '--count', '2', '--recipe', list]);
  t.is(notObject.code, 1);
  t.regex(notObject.stderr, /list\.json: a synth recipe is a JSON object of recipe fields \(e\.g\. \{"width": 256, "overlapRate": 0\.5\}\), got \[256,192\]/);
  t.false(existsSync(path.join(dir, 'out')), 'nothing generated');
});
