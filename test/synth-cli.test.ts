import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const bin = path.resolve('bin/laxray.js');

test('laxray synth --json writes the dataset and prints one JSON object', async (t) => {
  const out = await mkdtemp(path.join(tmpdir(), 'laxray-synth-cli-'));
  t.teardown(() => rm(out, { recursive: true, force: true }));
  const { stdout } = await run(process.execPath, [bin, 'synth', '--out', out, '--count', '4', '--seed', '3', '--width', '160', '--height', '120', '--objects-per-image', '2', '--overlap-rate', '1', '--raw', '--workers', '1', '--preview', path.join(out, 'sheet.png'), '--json']);
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
  const err = await t.throwsAsync(run(process.execPath, [bin, 'synth', '--out', 'x', '--count', 'many']));
  t.regex((err as { stderr?: string }).stderr ?? '', /--count must be an integer/);
  t.not((err as { code?: number }).code, 0);
  const err2 = await t.throwsAsync(run(process.execPath, [bin, 'synth', '--out', 'x', '--count', '2', '--overlap-rate', '1.5']));
  t.regex((err2 as { stderr?: string }).stderr ?? '', /--overlap-rate must be a number in \[0, 1\]/);
});
