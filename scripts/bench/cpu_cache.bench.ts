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
import { padTo } from '../../lib/data/transforms.js';
import { runtimeInfo, setCpuCacheLimit } from '../../lib/runtime.js';
import { demoConfig, demoModules, DEMO_SCALE } from '../../lib/cli/commands/demo.js';
import type { LaxrayConfigInput } from '../../lib/config/index.js';
import { reportBenchmark } from './machine.js';
import { elapsedMs, median, round, smoothImages, trainingBatchOf } from './samples.js';

interface Case {
  key: string;
  name: string;
  config: LaxrayConfigInput;
  /** One timed call. */
  call(detector: Detector): Promise<unknown>;
}

async function cases(): Promise<Case[]> {
  const demo = demoConfig({ dataDir: tmpdir(), epochs: 1, seed: 0 }, await demoModules());
  const [demoH, demoW] = [padTo(DEMO_SCALE[1]), padTo(DEMO_SCALE[0])];
  const r50Input = smoothImages(1, 800, 1344);
  const demoInput = smoothImages(1, demoH, demoW);
  const demoBatch = trainingBatchOf(smoothImages(4, demoH, demoW).data, 4, demoH, demoW);
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
          times.push(await elapsedMs(() => c.call(detector)));
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
