// From the runs' figures to the study's: per method mean ± std over seeds,
// paired per-seed differences against the controls, LA switched off at test
// time, LA weight statistics, per-class AP50, confusions and mean PR curves.
// Pure: RunMetrics in, plain JSON-able data out.
import type { DetectionChanges } from './compare_detections.js';
import { addConfusion, summarizeConfusion, topConfusions, type ConfusionMatrix, type ConfusionSummary } from './confusion.js';
import { HEADLINE_STATS, type Headline, type HeadlineStat, type RunMetrics } from './metrics.js';
import { confidenceInterval95, meanStd, pairedDifference, type MeanStd, type PairedDifference } from './stats.js';

export interface IntervalDifference extends PairedDifference {
  /** 95% t-interval of the mean paired difference (NaN with fewer than 2 seeds). */
  interval95: [number, number];
}

export interface MethodSummary {
  method: string;
  seeds: number[];
  overall: Record<HeadlineStat, MeanStd>;
  challenging: Record<HeadlineStat, MeanStd> | null;
  /** Mean over seeds of each class's AP50 (null: no ground truth). */
  perClassAP50: Record<string, number | null>;
  /** Confusion matrix summed over seeds, and the per-seed rates. */
  confusion: ConfusionMatrix;
  confusionChallenging: ConfusionMatrix | null;
  confusionRates: Record<'correctRate' | 'confusedRate' | 'confusedWithinGroupRate' | 'missedRate', MeanStd>;
  /** Mean over seeds of the precision at each recall threshold (IoU 0.5), per class. */
  precision50: Record<string, number[] | null>;
  trainSeconds: MeanStd;
  evalSeconds: MeanStd;
  iterations: number;
}

/** The detection counts are summed over seeds; maxScoreChange is the largest over seeds. */
export interface LaAblation extends Omit<DetectionChanges, 'meanScoreChange'> {
  method: string;
  /** (LA on) − (LA off) per seed, on the same trained weights. */
  difference: Record<HeadlineStat, IntervalDifference>;
  differenceChallenging: Record<HeadlineStat, IntervalDifference> | null;
  /** Per level: mean over seeds of the mean and p99, maximum over seeds of the max. */
  weights: { level: string; quantity: string; mean: number; p99: number; max: number; values: number }[];
}

export interface StudyAggregate {
  methods: MethodSummary[];
  /** paired[reference][method]: method − reference, seed by seed. */
  paired: Record<string, Record<string, { overall: Record<HeadlineStat, IntervalDifference>; challenging: Record<HeadlineStat, IntervalDifference> | null }>>;
  laAblations: LaAblation[];
  /** The off-diagonal confusions with the most objects, pooled over every method and seed (so no method picks them). */
  topConfusions: { truth: string; predicted: string; count: number; byMethod: Record<string, number> }[];
}

function withInterval(p: PairedDifference): IntervalDifference {
  return { ...p, interval95: confidenceInterval95(p) };
}

function bySeed(runs: readonly RunMetrics[], value: (r: RunMetrics) => number | undefined): Map<number, number> {
  const out = new Map<number, number>();
  for (const r of runs) {
    const v = value(r);
    if (v !== undefined) out.set(r.seed, v);
  }
  return out;
}

function statSummary(runs: readonly RunMetrics[], pick: (r: RunMetrics) => Headline | null): Record<HeadlineStat, MeanStd> | null {
  if (runs.some((r) => pick(r) === null)) return null;
  return Object.fromEntries(HEADLINE_STATS.map((s) => [s, meanStd(runs.map((r) => pick(r)![s]))])) as Record<HeadlineStat, MeanStd>;
}

function meanCurve(curves: readonly (number[] | null)[]): number[] | null {
  const present = curves.filter((c): c is number[] => c !== null);
  if (present.length === 0) return null;
  return present[0]!.map((_, i) => present.reduce((a, c) => a + c[i]!, 0) / present.length);
}

function summarizeMethod(method: string, runs: readonly RunMetrics[], groups: ReadonlyMap<string, string>): MethodSummary {
  const classes = Object.keys(runs[0]!.overall.perClassAP50);
  const rates = runs.map((r) => summarizeConfusion(r.overall.confusion, groups));
  const rate = (k: keyof ConfusionSummary) => meanStd(rates.map((s) => s[k]));
  return {
    method,
    seeds: runs.map((r) => r.seed),
    overall: statSummary(runs, (r) => r.overall.stats)!,
    challenging: statSummary(runs, (r) => r.challenging?.stats ?? null),
    perClassAP50: Object.fromEntries(
      classes.map((c) => {
        const values = runs.map((r) => r.overall.perClassAP50[c]).filter((v): v is number => v !== null && v !== undefined && v >= 0);
        return [c, values.length === runs.length ? meanStd(values).mean : null];
      }),
    ),
    confusion: addConfusion(runs.map((r) => r.overall.confusion)),
    confusionChallenging: runs.every((r) => r.challenging !== null) ? addConfusion(runs.map((r) => r.challenging!.confusion)) : null,
    confusionRates: { correctRate: rate('correctRate'), confusedRate: rate('confusedRate'), confusedWithinGroupRate: rate('confusedWithinGroupRate'), missedRate: rate('missedRate') },
    precision50: Object.fromEntries(classes.map((c) => [c, meanCurve(runs.map((r) => r.overall.precision50[c] ?? null))])),
    trainSeconds: meanStd(runs.map((r) => r.record.trainSeconds)),
    evalSeconds: meanStd(runs.map((r) => r.record.evalSeconds)),
    iterations: Math.max(...runs.map((r) => r.record.iterations)),
  };
}

function pairedStats(a: readonly RunMetrics[], b: readonly RunMetrics[], pick: (r: RunMetrics) => Headline | null): Record<HeadlineStat, IntervalDifference> | null {
  if ([...a, ...b].some((r) => pick(r) === null)) return null;
  return Object.fromEntries(HEADLINE_STATS.map((s) => [s, withInterval(pairedDifference(bySeed(a, (r) => pick(r)![s]), bySeed(b, (r) => pick(r)![s])))])) as Record<HeadlineStat, IntervalDifference>;
}

function laAblation(method: string, runs: readonly RunMetrics[]): LaAblation {
  const on = runs.filter((r) => r.laOff !== null);
  const diff = (pick: (r: RunMetrics) => Headline | null, pickOff: (r: RunMetrics) => Headline | null) =>
    Object.fromEntries(
      HEADLINE_STATS.map((s) => {
        const paired = on.filter((r) => pick(r) !== null && pickOff(r) !== null);
        const differences = paired.map((r) => pick(r)![s] - pickOff(r)![s]);
        return [s, withInterval({ ...meanStd(differences), seeds: paired.map((r) => r.seed), differences })];
      }),
    ) as Record<HeadlineStat, IntervalDifference>;
  const levels = new Map<string, { quantity: string; means: number[]; p99s: number[]; max: number; values: number }>();
  for (const r of on) {
    for (const l of r.laWeights ?? []) {
      let e = levels.get(l.level);
      if (e === undefined) levels.set(l.level, (e = { quantity: l.quantity, means: [], p99s: [], max: 0, values: 0 }));
      e.means.push(l.mean);
      e.p99s.push(l.p99);
      e.max = Math.max(e.max, l.max);
      e.values += l.values;
    }
  }
  const sum = (k: 'detectionsOn' | 'detectionsOff' | 'changed' | 'imagesDiffering' | 'images') => on.reduce((a, r) => a + r.laOff!.changes[k], 0);
  const changed = sum('changed');
  const total = sum('detectionsOn') + sum('detectionsOff');
  return {
    method,
    difference: diff((r) => r.overall.stats, (r) => r.laOff!.overall),
    differenceChallenging: on.every((r) => r.challenging !== null) ? diff((r) => r.challenging?.stats ?? null, (r) => r.laOff!.challenging) : null,
    detectionsOn: sum('detectionsOn'),
    detectionsOff: sum('detectionsOff'),
    changed,
    changedFraction: total > 0 ? changed / total : 0,
    imagesDiffering: sum('imagesDiffering'),
    images: sum('images'),
    maxScoreChange: Math.max(0, ...on.map((r) => r.laOff!.changes.maxScoreChange)),
    weights: [...levels.entries()].map(([level, e]) => ({ level, quantity: e.quantity, mean: meanStd(e.means).mean, p99: meanStd(e.p99s).mean, max: e.max, values: e.values })),
  };
}

/**
 * The study's aggregate figures. `methods` fixes the order; `references` are
 * the controls for the paired differences; `groups` maps class → group (for
 * within-group, look-alike confusions).
 */
export function aggregateStudy(runs: readonly RunMetrics[], methods: readonly string[], references: readonly string[], groups: ReadonlyMap<string, string>): StudyAggregate {
  const byMethod = new Map(methods.map((m) => [m, runs.filter((r) => r.method === m).sort((a, b) => a.seed - b.seed)]));
  const present = methods.filter((m) => byMethod.get(m)!.length > 0);
  const summaries = present.map((m) => summarizeMethod(m, byMethod.get(m)!, groups));
  const paired: StudyAggregate['paired'] = {};
  for (const ref of references.filter((r) => present.includes(r))) {
    paired[ref] = {};
    for (const m of present) {
      if (m === ref) continue;
      const a = byMethod.get(m)!;
      const b = byMethod.get(ref)!;
      paired[ref][m] = { overall: pairedStats(a, b, (r) => r.overall.stats)!, challenging: pairedStats(a, b, (r) => r.challenging?.stats ?? null) };
    }
  }
  const laAblations = present.filter((m) => byMethod.get(m)!.some((r) => r.laOff !== null)).map((m) => laAblation(m, byMethod.get(m)!));
  const pooled = summaries.length > 0 ? addConfusion(summaries.map((s) => s.confusion)) : null;
  const top = pooled === null ? [] : topConfusions(pooled, 10);
  return {
    methods: summaries,
    paired,
    laAblations,
    topConfusions: top.map((c) => {
      const i = pooled!.classes.indexOf(c.truth);
      const j = pooled!.classes.indexOf(c.predicted);
      return { ...c, byMethod: Object.fromEntries(summaries.map((s) => [s.method, s.confusion.counts[i]![j]!])) };
    }),
  };
}
