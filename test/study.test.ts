// `laxray study` end to end on the tiny `test` profile (2 methods × 1 seed, 16
// images of 128 × 128, 4 iterations): a run interrupted mid-training resumes
// from its checkpoint, a second invocation skips finished runs, the report's
// files hold the runs' figures, and each run is an ordinary run directory.
// Also: the argument errors, and the gpu profile validating and planning
// without training.
import test from 'ava';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { runStudy, type StudyEvent } from '../lib/study/index.js';
import { evaluateCocoFiles } from '../lib/eval/index.js';
import { jsonLines, laxrayInProcess } from './helpers/cli.js';
import { tempDir } from './helpers/temp_dir.js';

const tmp = tempDir('study');

/** The CLI in this process, output captured (serial tests only). */
const laxray = (args: string[]) => laxrayInProcess(args);

const events = (text: string) => jsonLines<StudyEvent & Record<string, unknown>>(text);

const errors: [string, string[], RegExp][] = [
  ['an unknown profile', ['study', '--profile', 'tpu'], /--profile tpu: unknown profile; choose one of cpu, gpu, test/],
  ['an unknown method', ['study', '--profile', 'test', '--methods', 'atss,yolo', '--dry-run'], /unknown study method 'yolo'; known methods: atss, /],
  ['a repeated seed', ['study', '--profile', 'test', '--seeds', '1,1', '--dry-run'], /repeat a seed/],
  ['a seed that is no integer', ['study', '--seeds', '0,x'], /--seeds must be integers/],
  ['--dry-run with --report-only', ['study', '--dry-run', '--report-only'], /exclude each other/],
  ['a missing --pretrained file', ['study', '--profile', 'test', '--pretrained', 'nope.safetensors', '--dry-run'], /--pretrained .*nope\.safetensors: no such file/],
];
for (const [what, args, message] of errors) {
  test.serial(`study: ${what} exits non-zero with a clear message`, async (t) => {
    const r = await laxray([...args, '--out', path.join(tmp, 'errors')]);
    t.not(r.code, 0);
    t.regex(r.stderr, message);
    t.notRegex(r.stderr, /unexpected error/);
  });
}

test.serial('the gpu profile (the paper\'s setting) validates every config and plans 18 runs without training', async (t) => {
  const out = path.join(tmp, 'gpu');
  const r = await laxray(['study', '--profile', 'gpu', '--out', out, '--dry-run', '--device', 'cpu', '--json']);
  t.is(r.code, 0, r.stderr);
  const plan = events(r.stdout).find((e) => e.type === 'plan') as Extract<StudyEvent, { type: 'plan' }>;
  t.is(plan.runs.length, 18);
  t.deepEqual(plan.seeds, [0, 1, 2]);
  t.true(plan.runs.every((run) => run.state === 'fresh'));
  // CLCXray's size, 8:1:1; 12 epochs × ceil(7652 / 8) iterations at batch 8
  t.deepEqual(plan.images, { train: 7652, val: 957, test: 956 });
  t.is(plan.iterationsPerRun, 12 * 957);
  t.false(existsSync(path.join(out, 'data')), 'a dry run generates no data');
  const warning = events(r.stdout).find((e) => e.type === 'warning') as Extract<StudyEvent, { type: 'warning' }>;
  t.regex(warning.message, /sized for a GPU and the device is the CPU: not timed/);
});

test.serial('laxray study: interrupted run resumes, finished runs are skipped, the report holds the runs\' figures', async (t) => {
  const out = path.join(tmp, 'tiny');
  // 1. stop the first run after its first training step (API, with an abort signal)
  const controller = new AbortController();
  const first: StudyEvent[] = [];
  const it = runStudy({ out, profile: 'test', calibrationSteps: 1, signal: controller.signal });
  let result;
  for (;;) {
    const next = await it.next();
    if (next.done) {
      result = next.value;
      break;
    }
    first.push(next.value);
    if (next.value.type === 'train' && next.value.event.type === 'iteration') controller.abort();
  }
  t.false(result.completed);
  const estimate = first.find((e) => e.type === 'estimate') as Extract<StudyEvent, { type: 'estimate' }>;
  t.deepEqual(estimate.calibration.timings.map((x) => x.method), ['atss', 'atss-lacls']);
  t.true(estimate.estimate.totalSeconds > 0);
  t.false(existsSync(path.join(out, 'calibration')), 'the calibration set is removed');
  const atssRun = path.join(out, 'runs', 'atss-seed0');
  const latest = JSON.parse(readFileSync(path.join(atssRun, 'checkpoints', 'latest.json'), 'utf8')) as { iteration: number };
  t.is(latest.iteration, 1, 'stopped with a checkpoint after one step');
  t.false(existsSync(path.join(atssRun, 'test', 'done.json')));

  // 2. the same study from the command line: resumes atss, trains atss-lacls, evaluates both, writes the report
  const second = await laxray(['study', '--profile', 'test', '--out', out, '--calibration-steps', '0', '--json']);
  t.is(second.code, 0, second.stderr);
  const ev = events(second.stdout);
  const starts = ev.filter((e) => e.type === 'run-start') as Extract<StudyEvent, { type: 'run-start' }>[];
  t.deepEqual(starts.map((s) => [s.name, s.state]), [
    ['atss-seed0', 'resume'],
    ['atss-lacls-seed0', 'fresh'],
  ]);
  const resumed = ev.find((e) => e.type === 'train' && e.event.type === 'start') as Extract<StudyEvent, { type: 'train' }>;
  t.is((resumed.event as { iteration: number }).iteration, 1, 'training continued at iteration 1');
  const final = ev.at(-1) as unknown as { type: string; completed: boolean; runs: number };
  t.like(final, { type: 'study-result', completed: true, runs: 2 });

  // the report
  const reportDir = path.join(out, 'report');
  const report = JSON.parse(readFileSync(path.join(reportDir, 'report.json'), 'utf8')) as {
    runs: { method: string; seed: number; overall: { stats: { AP: number } }; laOff: { overall: { AP: number } } | null; laWeights: { level: string; max: number }[] | null }[];
    aggregate: { methods: { method: string }[]; laAblations: { method: string; weights: unknown[] }[] };
    noise: { single: unknown[]; draws: number };
  };
  t.deepEqual(report.runs.map((r) => r.method).sort(), ['atss', 'atss-lacls']);
  t.deepEqual(report.aggregate.methods.map((m) => m.method), ['atss', 'atss-lacls']);
  t.deepEqual(report.aggregate.laAblations.map((a) => a.method), ['atss-lacls']);
  const lacls = report.runs.find((r) => r.method === 'atss-lacls')!;
  t.not(lacls.laOff, null, 'the LA model was also evaluated with LA off');
  t.deepEqual(lacls.laWeights!.map((l) => l.level), ['p3', 'p4', 'p5', 'p6', 'p7']);
  t.is(report.runs.find((r) => r.method === 'atss')!.laOff, null);
  t.is(report.noise.single.length, 2);
  // the report's AP is lib/eval's on the stored detections
  const direct = await evaluateCocoFiles(path.join(out, 'data', 'test.json'), path.join(atssRun, 'test', 'detections.json'));
  t.is(report.runs.find((r) => r.method === 'atss')!.overall.stats.AP, direct.stats.AP);
  const md = readFileSync(path.join(reportDir, 'report.md'), 'utf8');
  for (const heading of ['## Noise', '## Results', '## LA switched off at test time', '## Per-class AP50', '## Class confusions', '## Precision–recall curves']) t.true(md.includes(heading), heading);
  for (const png of ['confusion_atss.png', 'confusion_atss-lacls.png', 'pr_curves.png']) {
    t.is((await sharp(path.join(reportDir, png)).metadata()).format, 'png', png);
  }

  // 3. again: nothing to train or evaluate
  const doneAt = statSync(path.join(atssRun, 'test', 'done.json')).mtimeMs;
  const third = await laxray(['study', '--profile', 'test', '--out', out, '--calibration-steps', '0', '--json']);
  t.is(third.code, 0, third.stderr);
  const again = events(third.stdout);
  t.is(again.filter((e) => e.type === 'train' || e.type === 'run-start').length, 0);
  t.deepEqual(again.filter((e) => e.type === 'run-done').map((e) => (e as Extract<StudyEvent, { type: 'run-done' }>).skipped), [true, true]);
  t.is(statSync(path.join(atssRun, 'test', 'done.json')).mtimeMs, doneAt);

  // 4. a run directory works with laxray detect
  const image = path.join(out, 'data', 'images', '000001.png');
  const detect = await laxray(['detect', '--run', path.join(out, 'runs', 'atss-lacls-seed0'), image, '--json']);
  t.is(detect.code, 0, detect.stderr);
  t.is((JSON.parse(detect.stdout) as { images: unknown[] }).images.length, 1);

  // 5. another profile in the same folder is refused
  const other = await laxray(['study', '--profile', 'cpu', '--out', out, '--calibration-steps', '0']);
  t.is(other.code, 1);
  t.regex(other.stderr, /holds a study with another profile, benchmark, config .*give another --out folder/);
});
