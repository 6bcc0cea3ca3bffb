// The `laxray` command line for train / detect / demo / bench: --help
// everywhere, bad arguments and bad configs exit non-zero with a message that
// names the problem, and (with the native trainer built) the whole path on tiny
// data: synth → train 2 iterations → checkpoint → resume → eval → detect.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { jsonLines, LAXRAY_BIN, laxray as runLaxray, laxrayInProcess } from './helpers/cli.js';
import { thinR18 } from './helpers/small-detector.js';
import { tempDir } from './helpers/temp_dir.js';

const tmp = tempDir('cli');

/** bin/laxray.js in `tmp`, on the CPU unless LAXRAY_DEVICE says otherwise. */
const laxray = (args: string[]) => runLaxray(args, { cwd: tmp, env: { LAXRAY_DEVICE: process.env.LAXRAY_DEVICE ?? 'cpu' } });
/** The CLI in this process, in `tmp` (serial tests only). */
const inProcess = (args: string[]) => laxrayInProcess(args, { cwd: tmp });

test('the laxray binary runs a command and exits non-zero on a bad argument', async (t) => {
  const help = await laxray(['train', '--help']);
  t.is(help.code, 0, help.stderr);
  t.regex(help.stdout, /Usage: laxray train/);
  const bad = await laxray(['train', '--preset', 'nope']);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /^laxray: --preset nope: unknown preset/);
});

for (const command of ['train', 'detect', 'demo', 'bench']) {
  test.serial(`laxray ${command} --help prints its usage and exits 0`, async (t) => {
    const r = await inProcess([command, '--help']);
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout, new RegExp(`Usage: laxray ${command}`));
  });
}

const errors: [string, string[], RegExp][] = [
  ['an unknown preset', ['train', '--preset', 'atss-big'], /--preset atss-big: unknown preset; choose one of atss, atss-dist, atss-dist-reg2, atss-lacls, atss-lareg/],
  ['a non-numeric --epochs', ['train', '--epochs', 'many'], /--epochs must be a positive integer, got "many"/],
  ['an unknown device', ['train', '--device', 'tpu'], /expected cpu, cuda or cuda:<index>, got "tpu"/],
  ['--resume without a run directory', ['train', '--resume'], /--resume needs --run-dir/],
  ['--resume of a folder that is no run', ['train', '--resume', '--run-dir', '.'], /is not a laxray run directory: .*config\.json does not exist/],
  ['a config without training data', ['train', '--preset', 'atss'], /no training data: set data\.train/],
  ['a missing config file', ['train', '--config', 'nope.json'], /--config nope\.json: no such file/],
  ['a missing --train file', ['train', '--train', 'nope.json'], /--train nope\.json: no such file/],
  ['a --set without a value', ['train', '--set', 'train.batchSize'], /expected key\.path=value/],
  ['detect without --run', ['detect', 'a.png'], /needs --run <dir\|weights>/],
  ['detect of a missing image', ['detect', '--run', '.', 'missing.png'], /image missing\.png: no such file or folder/],
  ['detect with a run that is not one', ['detect', '--run', '.', '.'], /holds no images|not a laxray run directory/],
  ['a bad --score-threshold', ['detect', '--run', '.', '--score-threshold', '2', 'a.png'], /--score-threshold must be a number in \[0, 1\]/],
  ['an unknown benchmark', ['bench', 'warp-drive'], /unknown benchmark\(s\) warp-drive; available: /],
  ['demo with too few images', ['demo', '--images', '3'], /--images must be an integer in 20\.\.100000/],
];
for (const [what, args, message] of errors) {
  test.serial(`${what} exits non-zero with a clear message`, async (t) => {
    const r = await inProcess(args);
    t.not(r.code, 0);
    t.regex(r.stderr, message);
    t.notRegex(r.stderr, /unexpected error|at .*\.ts:\d+/, 'no stack trace');
  });
}

test.serial('config errors name the file, the key and what is wrong', async (t) => {
  const file = path.join(tmp, 'bad.json');
  writeFileSync(file, JSON.stringify({ preset: 'atss', train: { batchSize: 0, learningRate: 0.1 }, model: { head: { la: 'reg', regression: 'delta' } } }));
  const r = await inProcess(['train', '--config', file]);
  t.is(r.code, 1);
  t.regex(r.stderr, /bad\.json/);
  t.regex(r.stderr, /train\.batchSize/);
  t.regex(r.stderr, /learningRate/);
  const syntax = path.join(tmp, 'syntax.json');
  writeFileSync(syntax, '{\n  "train": { "epochs": 3, }\n}\n');
  const s = await inProcess(['train', '--config', syntax]);
  t.is(s.code, 1);
  t.regex(s.stderr, /syntax\.json:2:/);
});

test('a reader that goes away (laxray train --help | head -1) ends the CLI quietly, not with an unhandled EPIPE', async (t) => {
  for (const args of [['train', '--help'], ['--help']]) {
    const child = spawn(process.execPath, [LAXRAY_BIN, ...args], { cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the reader is gone before the first write
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    t.is(code, 0, stderr);
    t.notRegex(stderr, /EPIPE|Error|at .*:\d+/, 'no stack trace');
  }
});

test.serial('each config problem is printed once', async (t) => {
  const r = await inProcess(['train', '--set', 'data.std=[0,"a",1]']);
  t.is(r.code, 1);
  t.is(r.stderr.match(/data\.std\[0\]: must be > 0, got 0/g)?.length, 1, r.stderr);
  t.is(r.stderr.match(/data\.std\[1\]: expected a number > 0/g)?.length, 1, r.stderr);
});

// ------------------------------------------------------------------ the whole path (native)

test.serial('synth → train 2 iterations → checkpoint → resume → eval → detect, all through the CLI', async (t) => {
  const data = path.join(tmp, 'data');
  const synth = await laxray(['synth', '--out', data, '--count', '10', '--seed', '2', '--width', '128', '--height', '128', '--workers', '1', '--json']);
  t.is(synth.code, 0, synth.stderr);
  const config = path.join(tmp, 'tiny.json');
  writeFileSync(
    config,
    JSON.stringify({
      preset: 'atss-lacls',
      model: thinR18({ width: 64 }),
      data: { train: { annotations: 'data/train.json', images: 'data' }, val: { annotations: 'data/val.json', images: 'data' }, imageScale: [128, 128], workers: 1 },
      train: { batchSize: 2, epochs: 1, warmupIters: 2, checkpointEvery: 100 },
    }),
  );
  const runDir = path.join(tmp, 'run');
  const first = await laxray(['train', '--config', config, '--run-dir', runDir, '--max-iters', '2', '--json']);
  t.is(first.code, 0, first.stderr);
  const events = jsonLines(first.stdout);
  t.is(events[0]!.type, 'start');
  t.deepEqual(events.filter((e) => e.type === 'iteration').map((e) => e.iteration), [1, 2]);
  const done = events.at(-1)!;
  t.is(done.type, 'done');
  t.false(done.completed);
  const latest = JSON.parse(readFileSync(path.join(runDir, 'checkpoints', 'latest.json'), 'utf8'));
  t.is(latest.iteration, 2);
  t.true(existsSync(path.join(runDir, 'checkpoints', latest.weights)));

  const second = await laxray(['train', '--run-dir', runDir, '--resume', '--json']);
  t.is(second.code, 0, second.stderr);
  const resumed = jsonLines(second.stdout);
  t.is(resumed[0]!.iteration, 2);
  t.is(resumed.filter((e) => e.type === 'iteration')[0]!.iteration, 3);
  t.true(resumed.at(-1)!.completed as boolean);
  t.true(resumed.some((e) => e.type === 'validation'));
  for (const f of ['loss.png', 'summary.txt', 'val_detections.json']) t.true(existsSync(path.join(runDir, 'report', f)), f);

  const evaluation = await laxray(['eval', '--gt', path.join(data, 'val.json'), '--detections', path.join(runDir, 'report', 'val_detections.json'), '--json']);
  t.is(evaluation.code, 0, evaluation.stderr);
  const stats = JSON.parse(evaluation.stdout).stats as Record<string, number>;
  t.is(typeof stats.AP, 'number');
  const validation = resumed.filter((e) => e.type === 'validation').at(-1)! as { stats: Record<string, number> };
  t.true(Math.abs(stats.AP! - validation.stats.AP!) < 1e-12, 'laxray eval on the written detections gives the validation numbers');

  const out = path.join(tmp, 'detections');
  const image = path.join(data, 'images', '000001.png');
  const detect = await laxray(['detect', '--run', runDir, image, '--out', out, '--score-threshold', '0.01', '--json']);
  t.is(detect.code, 0, detect.stderr);
  const result = JSON.parse(detect.stdout) as { images: { file: string; width: number; detections: { box: number[]; score: number; category: string }[] }[] };
  t.is(result.images.length, 1);
  t.is(result.images[0]!.width, 128);
  t.true(result.images[0]!.detections.every((d) => d.score > 0 && d.box.length === 4 && typeof d.category === 'string'));
  t.true(existsSync(path.join(out, '000001.png')));
  t.true(existsSync(path.join(out, 'detections.json')));

  const readable = await laxray(['detect', '--run', path.join(runDir, 'checkpoints', latest.weights.replace(/iter_\d+/, `iter_${resumed.at(-1)!.iteration}`)), image]);
  t.is(readable.code, 0, readable.stderr);
  t.regex(readable.stdout, /000001\.png: \d+ object\(s\)/);
});

test.serial('detect over a folder with a bad image: every good image gets detections, the bad one is reported with its index', async (t) => {
  const { Detector } = await import('../lib/detector.js');
  const sharp = (await import('sharp')).default;
  const detector = await Detector.create({
    classes: ['knife', 'gun'],
    model: thinR18(),
    data: { imageScale: [96, 96] },
  });
  const weights = path.join(tmp, 'tiny-detect.safetensors');
  await detector.saveWeights(weights);
  const folder = path.join(tmp, 'scans');
  mkdirSync(folder, { recursive: true });
  for (const name of ['a.png', 'c.png', 'd.png']) {
    await sharp({ create: { width: 80, height: 64, channels: 3, background: { r: 90, g: 120, b: 200 } } }).png().toFile(path.join(folder, name));
  }
  writeFileSync(path.join(folder, 'b.png'), Buffer.from('\x89PNG\r\n\x1a\nthis is no image'));
  const out = path.join(tmp, 'scans-out');
  const r = await inProcess(['detect', '--run', weights, folder, '--out', out, '--batch-size', '2', '--json']);
  t.is(r.code, 1, 'a bad image makes the exit status non-zero');
  const result = JSON.parse(r.stdout) as { images: { file: string; width: number }[]; failed: { index: number; file: string; error: string }[] };
  t.deepEqual(result.images.map((i) => path.basename(i.file)), ['a.png', 'c.png', 'd.png']);
  t.true(result.images.every((i) => i.width === 80));
  t.is(result.failed.length, 1);
  t.like(result.failed[0], { index: 1, file: path.join(folder, 'b.png') });
  t.notRegex(result.failed[0]!.error, /^input \d/);
  t.regex(r.stderr, /^laxray: image 1 \(.*b\.png\): .*skipped$/m);
  const written = JSON.parse(readFileSync(path.join(out, 'detections.json'), 'utf8')) as typeof result;
  t.deepEqual(written.failed, result.failed);
  t.is(written.images.length, 3);
  for (const name of ['a.png', 'c.png', 'd.png']) t.true(existsSync(path.join(out, name)), name);
  t.false(existsSync(path.join(out, 'b.png')));
});
