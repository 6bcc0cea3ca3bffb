import test from 'ava';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { laxray } from './helpers/cli.js';
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
