// CPU (or LAXRAY_DEVICE) forward latency of ResNet-50 ATSS and ATSS+LAcls at
// 800×1333, measured side by side in one process, and their ratio.
// Options (env): LAXRAY_BENCH_REPEATS (default 5), LAXRAY_BENCH_SIZE ("800x1333").
import { Detector } from '../../lib/detector.js';
import { runtimeInfo } from '../../lib/runtime.js';
import { reportBenchmark } from './machine.js';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export async function run(): Promise<void> {
  const repeats = Number(process.env.LAXRAY_BENCH_REPEATS ?? 5);
  const [height, width] = (process.env.LAXRAY_BENCH_SIZE ?? '800x1333').split('x').map(Number) as [number, number];
  const info = await runtimeInfo();
  const variants = [
    { name: 'ATSS (delta, no LA)', preset: 'atss' },
    { name: 'ATSS+LAcls (distribution)', preset: 'atss-lacls' },
  ] as const;
  const detectors = await Promise.all(variants.map((v) => Detector.create({ preset: v.preset, model: { backbone: { depth: 50 } } })));
  const input = { data: new Float32Array(3 * height * width).map((_, i) => Math.sin(i * 0.001)), shape: [1, 3, height, width] };
  const times: number[][] = variants.map(() => []);
  for (const d of detectors) await d.detect(input); // warm-up
  // Interleave the variants so machine noise hits both alike.
  for (let r = 0; r < repeats; r++) {
    for (let v = 0; v < variants.length; v++) {
      const start = process.hrtime.bigint();
      await detectors[v]!.detect(input);
      times[v]!.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  }
  const medians = times.map(median);
  reportBenchmark('detector-forward-latency', {
    device: detectors[0]!.device,
    torch: info.torchVersion,
    threads: info.intraOpThreads,
    input: [1, 3, height, width],
    backbone: 'resnet50',
    repeats,
    variants: variants.map((v, i) => ({ name: v.name, medianMs: Math.round(medians[i]! * 10) / 10, samplesMs: times[i]!.map((t) => Math.round(t)) })),
    ratioLaclsToAtss: Math.round((medians[1]! / medians[0]!) * 1000) / 1000,
    note: 'detect() = forward + post-processing; LAcls adds a first cls prediction and two autograd passes per level',
  });
}
