// Does LA survive bfloat16? On a briefly trained LAcls model (the demo's
// ResNet-18 on synthetic scans), LA's change to the feature,
// Δ = x_new − x = x·(a + b·w1 − c·w2) − x, computed with LA's gradient passes
// and reweighting in bf16 (labelAwarePrecision 'compute') against the same in
// float32 (the default under bf16), both on the same bf16 backbone, from
// inspect(). The criterion: within 1% (relative L2 over all levels and
// images); otherwise LA stays in float32 under bf16. fp32 throughout is
// reported beside it for scale.
// Options (env): LAXRAY_BENCH_RUN (a run directory to use instead of training),
// LAXRAY_BENCH_TRAIN_ITERS (default 60), LAXRAY_BENCH_IMAGES (default 6).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Detector } from '../../lib/detector.js';
import { demoConfig, demoModules, DEMO_RECIPE } from '../../lib/cli/commands/demo.js';
import { loadCocoDataset } from '../../lib/data/index.js';
import { generateDataset } from '../../lib/data/synth/index.js';
import { Trainer } from '../../lib/train/index.js';
import { runtimeInfo } from '../../lib/runtime.js';
import { reportBenchmark } from './machine.js';

/** Δ = x_new − x per LA level, from one inspect() result. */
function changes(named: Record<string, { data: ArrayLike<number> }>): Float64Array[] {
  const out: Float64Array[] = [];
  for (let level = 3; named[`la.p${level}.x_new`]; level++) {
    const x = named[`fpn.p${level}`]!.data;
    const xNew = named[`la.p${level}.x_new`]!.data;
    out.push(Float64Array.from(xNew, (v, i) => v - x[i]!));
  }
  return out;
}

function relativeL2(test: Float64Array[], reference: Float64Array[]): number {
  let num = 0;
  let den = 0;
  test.forEach((t, l) => t.forEach((v, i) => ((num += (v - reference[l]![i]!) ** 2), (den += reference[l]![i]! ** 2))));
  return Math.sqrt(num / den);
}

export async function run(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'laxray-la-precision-'));
  try {
    const dataDir = path.join(dir, 'data');
    await generateDataset({ outDir: dataDir, count: 80, seed: 5, recipe: DEMO_RECIPE });
    const config = demoConfig({ dataDir, epochs: 1, seed: 0, device: 'cpu' }, await demoModules());
    let runDir = process.env.LAXRAY_BENCH_RUN;
    const iterations = Number(process.env.LAXRAY_BENCH_TRAIN_ITERS ?? 60);
    if (!runDir) {
      runDir = path.join(dir, 'run');
      const detector = await Detector.create({ ...config, train: { ...config.train, epochs: 100, checkpointEvery: 10_000 } });
      const train = await loadCocoDataset(path.join(dataDir, 'train.json'));
      for await (const _ of new Trainer({ detector, train, runDir, maxIterations: iterations, reportSamples: 0 }).train());
    }
    const variants = {
      fp32: await Detector.load(runDir, { device: 'cpu' }),
      bf16LaFp32: await Detector.load(runDir, { device: 'cpu', precision: 'bf16' }),
      bf16LaBf16: await Detector.load(runDir, { device: 'cpu', precision: 'bf16', labelAwarePrecision: 'compute' }),
    };
    const val = await loadCocoDataset(path.join(dataDir, 'all.json'));
    const images = val.images.slice(0, Number(process.env.LAXRAY_BENCH_IMAGES ?? 6)).map((im) => im.path);
    const perImage: { laBf16VsLaFp32: number; bf16VsFp32: number }[] = [];
    const all = { fp32: [] as Float64Array[], bf16LaFp32: [] as Float64Array[], bf16LaBf16: [] as Float64Array[] };
    for (const image of images) {
      const d = {
        fp32: changes(await variants.fp32.inspect(image)),
        bf16LaFp32: changes(await variants.bf16LaFp32.inspect(image)),
        bf16LaBf16: changes(await variants.bf16LaBf16.inspect(image)),
      };
      for (const k of Object.keys(all) as (keyof typeof all)[]) all[k].push(...d[k]);
      perImage.push({ laBf16VsLaFp32: relativeL2(d.bf16LaBf16, d.bf16LaFp32), bf16VsFp32: relativeL2(d.bf16LaFp32, d.fp32) });
    }
    const laBf16 = relativeL2(all.bf16LaBf16, all.bf16LaFp32);
    reportBenchmark('la-precision', {
      torch: (await runtimeInfo()).torchVersion,
      model: 'demo ATSS+LAcls ResNet-18, 384×256, CPU',
      trained: process.env.LAXRAY_BENCH_RUN ? `run ${runDir}` : `${iterations} iterations on 64 synthetic scans`,
      images: images.length,
      deltaRelativeL2: {
        laInBf16VsLaInFp32: Math.round(laBf16 * 1e4) / 1e4,
        bf16NetworkVsFp32Network: Math.round(relativeL2(all.bf16LaFp32, all.fp32) * 1e4) / 1e4,
      },
      perImage: perImage.map((p) => ({ laBf16VsLaFp32: Math.round(p.laBf16VsLaFp32 * 1e4) / 1e4, bf16VsFp32: Math.round(p.bf16VsFp32 * 1e4) / 1e4 })),
      withinOnePercent: laBf16 <= 0.01,
      decision: laBf16 <= 0.01 ? 'LA may run in bf16' : "LA stays in float32 under bf16 (labelAwarePrecision 'fp32', the default)",
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
