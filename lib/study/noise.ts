// How big the noise is, in two parts: the test set's (bootstrap over test
// images of one trained model's AP, and of the paired AP difference between
// two models) and the training's (seed-to-seed std, in the method summaries).
import type { CocoGroundTruth } from '../eval/index.js';
import { bootstrapDifference, bootstrapStat } from './bootstrap_ap.js';
import type { RunMetrics } from './metrics.js';
import type { BootstrapResult } from './stats.js';

export interface NoiseEstimate {
  /** Bootstrap of AP for one run (the lowest seed) of each method, overall and on the challenging subset. */
  single: { method: string; seed: number; overall: BootstrapResult; challenging: BootstrapResult | null }[];
  /** Paired bootstrap of AP(method) − AP(reference) on one seed both have. */
  paired: { method: string; reference: string; seed: number; overall: BootstrapResult }[];
  draws: number;
}

/**
 * Bootstrap noise of the test set. `pairs` lists [method, reference] to
 * bootstrap the difference of; each uses the lowest seed both methods have.
 */
export function estimateNoise(
  runs: readonly RunMetrics[],
  groundTruth: CocoGroundTruth,
  challengingIds: readonly number[],
  options: { draws: number; seed?: number; pairs: readonly (readonly [string, string])[] },
): NoiseEstimate {
  const seed = options.seed ?? 12345;
  const common = { draws: options.draws, seed };
  const first = (method: string) => runs.filter((r) => r.method === method).sort((a, b) => a.seed - b.seed)[0];
  const methods = [...new Set(runs.map((r) => r.method))];
  const single = methods.map((m) => {
    const run = first(m)!;
    return {
      method: m,
      seed: run.seed,
      overall: bootstrapStat(groundTruth, run.detections, common),
      challenging: challengingIds.length > 0 ? bootstrapStat(groundTruth, run.detections, { ...common, imageIds: challengingIds }) : null,
    };
  });
  const paired: NoiseEstimate['paired'] = [];
  for (const [method, reference] of options.pairs) {
    const seeds = new Set(runs.filter((r) => r.method === reference).map((r) => r.seed));
    const run = runs.filter((r) => r.method === method && seeds.has(r.seed)).sort((a, b) => a.seed - b.seed)[0];
    if (run === undefined) continue;
    const ref = runs.find((r) => r.method === reference && r.seed === run.seed)!;
    paired.push({ method, reference, seed: run.seed, overall: bootstrapDifference(groundTruth, run.detections, ref.detections, common) });
  }
  return { single, paired, draws: options.draws };
}
