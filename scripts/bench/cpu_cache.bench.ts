// What the CPU block cache (native/cpu_allocator.h) buys: the same detector
// timed with the cache off (setCpuCacheLimit(0), every freed block goes back
// to malloc) and on (the limit the process started with), interleaved in one
// process, for
//   - detection, batch 1: ResNet-50 ATSS at 800×1344, and the demo model;
//   - a training step: the demo model (ATSS+LAcls, ResNet-18, 384×256), batch 4.
// Options (env): LAXRAY_BENCH_REPEATS (default 5), LAXRAY_BENCH_CASES (comma
// list of r50-detect, demo-detect, demo-train; default all).
import { loadavg, tmpdir } from 'node:os';
import { Detector } from '../../lib/detector.js';
import { runtimeInfo, setCpuCacheLimit } from '../../lib/runtime.js';
import { demoConfig, demoModules, DEMO_SCALE } from '../../lib/cli/commands/demo.js';
import type { LaxrayConfigInput } from '../../lib/config/index.js';
import type { TrainingBatch } from '../../lib/data/index.js';
import { reportBenchmark } from './machine.js';

interface Case {
  key: string;
  name: string;
  config: LaxrayConfigInput;
  /** One timed call. */
  call(detector: Detector): Promise<unknown>;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;
const pad = (v: number) => Math.ceil(v / 32) * 32;

/** A [n, 3, h, w] input of smooth values (the same every call). */
function input(n: number, height: number, width: number) {
  const data = new Float32Array(n * 3 * height * width).map((_, i) => Math.sin(i * 0.001) * 1.5);
  return { data, shape: [n, 3, height, width] };
}

/** A training batch of `n` images with two boxes each. */
function trainingBatch(n: number, height: number, width: number): TrainingBatch {
  return {
    ...input(n, height, width),
    metas: Array.from({ length: n }, (_, i) => ({
      imageId: i, originalWidth: width, originalHeight: height, resizedWidth: width, resizedHeight: height,
      scaleX: 1, scaleY: 1, flipped: false, padRight: 0, padBottom: 0,
    })),
    targets: Array.from({ length: n }, () => ({
      boxes: Float32Array.from([0.1 * width, 0.2 * height, 0.5 * width, 0.7 * height, 0.4 * width, 0.3 * height, 0.9 * width, 0.8 * height]),
      labels: Int32Array.from([0, 1]),
      ignoreBoxes: new Float32Array(0),
      annotationIds: [0, 1],
    })),
    epoch: 0,
    index: 0,
  } as TrainingBatch;
}

async function cases(): Promise<Case[]> {
  const demo = demoConfig({ dataDir: tmpdir(), epochs: 1, seed: 0 }, await demoModules());
  const [demoH, demoW] = [pad(DEMO_SCALE[1]), pad(DEMO_SCALE[0])];
  const r50Input = input(1, 800, 1344);
  const demoInput = input(1, demoH, demoW);
  const demoBatch = trainingBatch(4, demoH, demoW);
  return [
    { key: 'r50-detect', name: 'detect: ATSS ResNet-50, 800×1344, batch 1', config: { preset: 'atss', model: { backbone: { depth: 50 } } }, call: (d) => d.detect(r50Input) },
    { key: 'demo-detect', name: `detect: demo model, ${demoW}×${demoH}, batch 1`, config: demo, call: (d) => d.detect(demoInput) },
    { key: 'demo-train', name: `train step: demo model, ${demoW}×${demoH}, batch 4`, config: demo, call: (d) => d.trainStep(demoBatch, 0.001) },
  ];
}

export async function run(): Promise<void> {
  const repeats = Number(process.env.LAXRAY_BENCH_REPEATS ?? 5);
  const wanted = (process.env.LAXRAY_BENCH_CASES ?? 'r50-detect,demo-detect,demo-train').split(',');
  const info = await runtimeInfo();
  const limit = info.cpuCache.limitBytes;
  try {
    for (const c of (await cases()).filter((x) => wanted.includes(x.key))) {
      const detector = await Detector.create({ ...c.config, device: 'cpu' });
      await c.call(detector); // warm-up
      const offMs: number[] = [];
      const onMs: number[] = [];
      const loadBefore = loadavg()[0]!;
      // Interleaved, so machine noise hits both alike; each timed call follows an untimed one in the same setting.
      for (let r = 0; r < repeats; r++) {
        for (const [cacheLimit, times] of [[0, offMs], [limit, onMs]] as const) {
          setCpuCacheLimit(cacheLimit);
          await c.call(detector);
          const start = process.hrtime.bigint();
          await c.call(detector);
          times.push(Number(process.hrtime.bigint() - start) / 1e6);
        }
      }
      reportBenchmark('cpu-cache', {
        case: c.name,
        device: 'cpu',
        torch: info.torchVersion,
        threads: info.intraOpThreads,
        cacheLimitBytes: limit,
        repeats,
        loadAverage1m: [round(loadBefore, 2), round(loadavg()[0]!, 2)],
        cacheOff: { medianMs: round(median(offMs)), samplesMs: offMs.map(Math.round) },
        cacheOn: { medianMs: round(median(onMs)), samplesMs: onMs.map(Math.round) },
        ratioOnToOff: round(median(onMs) / median(offMs), 3),
      });
    }
  } finally {
    setCpuCacheLimit(limit);
  }
}
