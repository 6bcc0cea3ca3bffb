// The study's report folder: report.md (tables and the rules behind them),
// report.json (every figure), confusion_<method>.png and pr_curves.png.
// Figures only: what they mean is for the reader; the "Reading" lines state
// mechanically whether a 95% interval excludes zero.
import os from 'node:os';
import path from 'node:path';
import { writeFileAtomic } from '../atomic_file.js';
import { formatTable, type TableRow } from '../report/index.js';
import type { SynthRecipe, SynthStats } from '../data/synth/index.js';
import type { IntervalDifference, StudyAggregate } from './aggregate.js';
import { CONFUSION_RULE } from './confusion.js';
import { UNCHANGED_IOU } from './compare_detections.js';
import { HEADLINE_STATS, type HeadlineStat, type RunMetrics } from './metrics.js';
import type { StudyMethod } from './methods.js';
import type { NoiseEstimate } from './noise.js';
import { confusionHeatmap, precisionRecallGrid } from './plots.js';
import type { StudyProfile } from './profiles.js';
import type { MeanStd } from './stats.js';

export interface StudyReportInput {
  profile: StudyProfile;
  methods: readonly StudyMethod[];
  seeds: readonly number[];
  benchmark: { recipe: SynthRecipe; stats: SynthStats; testImages: number; challengingImages: number; testObjects: number };
  runs: readonly RunMetrics[];
  aggregate: StudyAggregate;
  noise: NoiseEstimate;
  warnings: readonly string[];
  /** The shared training settings, for the record (a resolved config of one run). */
  settings: { backbone: string; imageScale: [number, number]; epochs: number; batchSize: number; lr: number; iterations: number; device: string };
  command?: string;
}

export interface StudyReportFiles {
  markdown: string;
  json: string;
  figures: string[];
}

const pct = (v: number, digits = 1) => (Number.isFinite(v) ? (100 * v).toFixed(digits) : '–');
const signed = (v: number, digits = 2) => (Number.isFinite(v) ? `${v >= 0 ? '+' : '−'}${Math.abs(100 * v).toFixed(digits)}` : '–');
const ms = (m: MeanStd, digits = 1) => (m.n === 0 ? '–' : m.n < 2 ? pct(m.mean, digits) : `${pct(m.mean, digits)} ± ${pct(m.std, digits)}`);
const sci = (v: number) => (!Number.isFinite(v) ? '–' : v === 0 ? '0' : v.toExponential(2));
const STAT_LABEL: Record<HeadlineStat, string> = { AP: 'AP', AP50: 'AP50', AP75: 'AP75' };

function diffCell(d: IntervalDifference): string {
  if (d.n === 0) return '–';
  if (d.n < 2) return `${signed(d.mean)} (1 seed)`;
  return `${signed(d.mean)} ± ${pct(d.std, 2)} [${signed(d.interval95[0])}, ${signed(d.interval95[1])}]`;
}

function verdict(d: IntervalDifference): string {
  if (d.n < 2 || !Number.isFinite(d.interval95[0])) return 'too few seeds for an interval';
  if (d.interval95[0] > 0) return 'higher (95% interval above 0)';
  if (d.interval95[1] < 0) return 'lower (95% interval below 0)';
  return 'no detectable difference (95% interval contains 0)';
}

function table(rows: TableRow[], columns: string[], nameHeader: string): string {
  return formatTable(rows, { columns, nameHeader, style: 'markdown' });
}

/** report.md */
export function studyMarkdown(input: StudyReportInput): string {
  const { profile, aggregate: agg, noise, benchmark } = input;
  const out: string[] = [];
  const push = (...lines: string[]) => out.push(...lines);
  const s = input.settings;
  push(
    `# LA study — profile \`${profile.name}\``,
    '',
    `Generated ${new Date().toISOString()} on ${os.cpus().length} CPU core(s) (${os.cpus()[0]?.model ?? 'unknown CPU'}), device ${s.device}.` +
      (input.command ? ` Command: \`${input.command}\`.` : ''),
    '',
    `Training (every method): ${s.backbone}, inputs ${s.imageScale.join('×')}, ${s.epochs} epoch${s.epochs === 1 ? '' : 's'} (${s.iterations} iterations), batch ${s.batchSize}, lr ${s.lr}; seeds ${input.seeds.join(', ')}. Profile: ${profile.description}.`,
    '',
  );
  if (input.warnings.length > 0) push('**Warnings**', '', ...input.warnings.map((w) => `- ${w}`), '');

  push('## Methods', '', ...input.methods.map((m) => `- \`${m.name}\`: ${m.description} (preset \`${m.preset}\`${Object.keys(m.overrides).length ? `, ${JSON.stringify(m.overrides)}` : ''})`), '');

  push(
    '## Benchmark',
    '',
    `Synthetic dual-energy scans (lib/data/synth), generator seed ${profile.benchmark.seed}, ${benchmark.stats.images} images: ` +
      `${benchmark.stats.splits.train} train / ${benchmark.stats.splits.val} val / ${benchmark.stats.splits.test} test; ` +
      `${benchmark.stats.objects} objects (${benchmark.stats.objectsPerImage} per image, ${benchmark.stats.imagesWithAtLeastTwoObjects} images with ≥ 2), ` +
      `mean overlap ${benchmark.stats.meanOverlap}. Test split: ${benchmark.testImages} images, ${benchmark.testObjects} objects; challenging subset ` +
      `(an object ≥ ${benchmark.recipe.challenging.minOverlap * 100}% covered by others, or background similarity ≥ ${benchmark.recipe.challenging.minSimilarity}): ${benchmark.challengingImages} images.`,
    '',
    `Recipe: CLCXray's class mix (Table II) and objects per image (Fig. 5), overlap rate ${benchmark.recipe.overlapRate}, clutter ${benchmark.recipe.clutter}; ` +
      `image sizes ${JSON.stringify(benchmark.recipe.width)} × ${JSON.stringify(benchmark.recipe.height)} px. Objects per class (all splits): ` +
      Object.entries(benchmark.stats.perClass)
        .map(([c, v]) => `${c} ${v}`)
        .join(', ') +
      '.',
    '',
  );

  push('## Noise', '', `Test-set noise: bootstrap over test images (${noise.draws} resamples) of one run per method. Training noise: the std over seeds in the tables below.`, '');
  push(
    table(
      noise.single.map((n) => ({
        name: `${n.method} (seed ${n.seed})`,
        values: {
          AP: pct(n.overall.estimate),
          'bootstrap std': pct(n.overall.std, 2),
          '95% interval': `[${pct(n.overall.interval95[0])}, ${pct(n.overall.interval95[1])}]`,
          'challenging AP': n.challenging ? pct(n.challenging.estimate) : '–',
          'challenging std': n.challenging ? pct(n.challenging.std, 2) : '–',
          'seed-to-seed std': pct(agg.methods.find((m) => m.method === n.method)?.overall.AP.std ?? Number.NaN, 2),
        },
      })),
      ['AP', 'bootstrap std', '95% interval', 'challenging AP', 'challenging std', 'seed-to-seed std'],
      'run',
    ),
    '',
  );
  if (noise.paired.length > 0) {
    push(
      'Paired bootstrap of an AP difference on one seed (both models on the same resampled images):',
      '',
      table(
        noise.paired.map((p) => ({
          name: `${p.method} − ${p.reference} (seed ${p.seed})`,
          values: { 'ΔAP': signed(p.overall.estimate), 'bootstrap std': pct(p.overall.std, 2), '95% interval': `[${signed(p.overall.interval95[0])}, ${signed(p.overall.interval95[1])}]` },
        })),
        ['ΔAP', 'bootstrap std', '95% interval'],
        'difference',
      ),
      '',
    );
  }

  push('## Results (mean ± std over seeds, %)', '');
  const resultRows = (pick: (m: StudyAggregate['methods'][number]) => Record<HeadlineStat, MeanStd> | null) =>
    agg.methods.map((m) => {
      const st = pick(m);
      return { name: m.method, values: Object.fromEntries(HEADLINE_STATS.map((k) => [STAT_LABEL[k], st ? ms(st[k]) : '–'])) };
    });
  push('All test images:', '', table(resultRows((m) => m.overall), HEADLINE_STATS.map((k) => STAT_LABEL[k]), 'method'), '');
  push(`Challenging subset (${benchmark.challengingImages} images):`, '', table(resultRows((m) => m.challenging), HEADLINE_STATS.map((k) => STAT_LABEL[k]), 'method'), '');

  push(
    '## Paired differences against the controls',
    '',
    'Per seed, method − control on the same test images; mean ± std over seeds [95% t-interval of the mean], in AP points.',
    '',
  );
  for (const [ref, byMethod] of Object.entries(agg.paired)) {
    push(`Against \`${ref}\`:`, '');
    const rows: TableRow[] = Object.entries(byMethod).map(([m, d]) => ({
      name: m,
      values: {
        'ΔAP': diffCell(d.overall.AP),
        'ΔAP50': diffCell(d.overall.AP50),
        'ΔAP75': diffCell(d.overall.AP75),
        'ΔAP challenging': d.challenging ? diffCell(d.challenging.AP) : '–',
      },
    }));
    push(table(rows, ['ΔAP', 'ΔAP50', 'ΔAP75', 'ΔAP challenging'], 'method'), '');
    for (const [m, d] of Object.entries(byMethod)) {
      if (input.methods.find((x) => x.name === m)?.la === null) continue;
      push(`- Reading, \`${m}\` vs \`${ref}\`: AP ${verdict(d.overall.AP)}; challenging AP ${d.challenging ? verdict(d.challenging.AP) : '–'}.`);
    }
    push('');
  }

  if (agg.laAblations.length > 0) {
    push(
      '## LA switched off at test time',
      '',
      'The same trained weights evaluated with `model.test.labelAware: false` (x_new = x, as with w1 = w2 = 0.5; the rest of the head, including the doubled regression tower, unchanged). ' +
        `A detection counts as changed when the other evaluation has none of the same class with box IoU ≥ ${UNCHANGED_IOU} on the same image.`,
      '',
    );
    push(
      table(
        agg.laAblations.map((a) => ({
          name: a.method,
          values: {
            'ΔAP (on − off)': diffCell(a.difference.AP),
            'ΔAP50': diffCell(a.difference.AP50),
            'ΔAP challenging': a.differenceChallenging ? diffCell(a.differenceChallenging.AP) : '–',
            'detections changed': `${a.changed} of ${a.detectionsOn + a.detectionsOff} (${(100 * a.changedFraction).toFixed(3)}%)`,
            'images differing': `${a.imagesDiffering} of ${a.images}`,
            'max |Δscore|': sci(a.maxScoreChange),
          },
        })),
        ['ΔAP (on − off)', 'ΔAP50', 'ΔAP challenging', 'detections changed', 'images differing', 'max |Δscore|'],
        'method',
      ),
      '',
      'How far the weights move the features (test set, every channel of every location inside the image; LAcls: |w1 − w2|, LAreg: |w − 0.5|; 0 = feature unchanged). Mean and p99: average over seeds; max: over seeds. p99 from a log histogram (±0.12%).',
      '',
    );
    for (const a of agg.laAblations) {
      push(
        `\`${a.method}\`:`,
        '',
        table(
          a.weights.map((w) => ({ name: w.level, values: { quantity: w.quantity, mean: sci(w.mean), p99: sci(w.p99), max: sci(w.max), values: String(w.values) } })),
          ['quantity', 'mean', 'p99', 'max', 'values'],
          'level',
        ),
        '',
      );
    }
  }

  const classes = Object.keys(agg.methods[0]?.perClassAP50 ?? {});
  push('## Per-class AP50 (mean over seeds, %)', '');
  push(
    table(
      classes.map((c) => ({ name: c, values: Object.fromEntries(agg.methods.map((m) => [m.method, m.perClassAP50[c] ?? -1])) })),
      agg.methods.map((m) => m.method),
      'class',
    ),
    '',
  );

  push('## Class confusions', '', `Rule: ${CONFUSION_RULE}`, '', 'Look-alike confusions: both classes in the same group (cutters: blade, dagger, knife, scissors, swiss army knife; liquid containers: the other seven). Rates are shares of all test objects, mean ± std over seeds (%).', '');
  push(
    table(
      agg.methods.map((m) => ({
        name: m.method,
        values: {
          correct: ms(m.confusionRates.correctRate),
          'confused (any)': ms(m.confusionRates.confusedRate, 2),
          'confused (look-alike)': ms(m.confusionRates.confusedWithinGroupRate, 2),
          missed: ms(m.confusionRates.missedRate),
        },
      })),
      ['correct', 'confused (any)', 'confused (look-alike)', 'missed'],
      'method',
    ),
    '',
  );
  if (agg.topConfusions.length > 0) {
    push('The most frequent confusions, pooled over all methods and seeds (objects, summed over seeds):', '');
    push(
      table(
        agg.topConfusions.map((c) => ({ name: `${c.truth} → ${c.predicted}`, values: Object.fromEntries(agg.methods.map((m) => [m.method, String(c.byMethod[m.method] ?? 0)])) })),
        agg.methods.map((m) => m.method),
        'true → winning class',
      ),
      '',
    );
  }
  push('Heat-maps (all seeds summed, each row normalised to its objects):', '', ...agg.methods.map((m) => `![confusions ${m.method}](confusion_${m.method}.png)`), '');
  push('## Precision–recall curves', '', 'Per class at IoU 0.5 (COCO interpolated precision at 101 recall thresholds, mean over seeds):', '', '![precision-recall](pr_curves.png)', '');

  push('## Runs', '');
  push(
    table(
      [...input.runs]
        .sort((a, b) => a.method.localeCompare(b.method) || a.seed - b.seed)
        .map((r) => ({
          name: r.record.name,
          values: {
            AP: pct(r.overall.stats.AP),
            AP50: pct(r.overall.stats.AP50),
            'AP challenging': r.challenging ? pct(r.challenging.stats.AP) : '–',
            'AP LA off': r.laOff ? pct(r.laOff.overall.AP) : '–',
            iterations: String(r.record.iterations),
            'train min': (r.record.trainSeconds / 60).toFixed(1),
            'eval min': (r.record.evalSeconds / 60).toFixed(1),
          },
        })),
      ['AP', 'AP50', 'AP challenging', 'AP LA off', 'iterations', 'train min', 'eval min'],
      'run',
    ),
    '',
  );
  return out.join('\n');
}

/** Writes report.md, report.json and the figures into `dir`. */
export async function writeStudyReport(dir: string, input: StudyReportInput): Promise<StudyReportFiles> {
  const figures: string[] = [];
  for (const m of input.aggregate.methods) {
    const file = path.join(dir, `confusion_${m.method}.png`);
    await writeFileAtomic(file, await confusionHeatmap(m.confusion, `${m.method}: confusions on the test set (${m.seeds.length} seed${m.seeds.length > 1 ? 's' : ''})`));
    figures.push(file);
  }
  const classes = Object.keys(input.aggregate.methods[0]?.precision50 ?? {});
  if (classes.length > 0) {
    const file = path.join(dir, 'pr_curves.png');
    await writeFileAtomic(file, await precisionRecallGrid(input.aggregate.methods, classes));
    figures.push(file);
  }
  const markdown = path.join(dir, 'report.md');
  await writeFileAtomic(markdown, studyMarkdown(input));
  const json = path.join(dir, 'report.json');
  const { runs, ...rest } = input;
  const runSummaries = runs.map((r) => ({
    method: r.method,
    seed: r.seed,
    record: r.record,
    overall: { stats: r.overall.stats, perClassAP50: r.overall.perClassAP50, confusion: r.overall.confusion },
    challenging: r.challenging ? { stats: r.challenging.stats, perClassAP50: r.challenging.perClassAP50, confusion: r.challenging.confusion } : null,
    laOff: r.laOff ? { overall: r.laOff.overall, challenging: r.laOff.challenging, changes: r.laOff.changes } : null,
    laWeights: r.laWeights,
  }));
  const body = {
    format: 'laxray-study-report',
    version: 1,
    generatedAt: new Date().toISOString(),
    rules: { confusion: CONFUSION_RULE, unchangedDetectionIou: UNCHANGED_IOU, interval: '95% Student t-interval of the mean paired difference over seeds' },
    ...rest,
    profile: { name: input.profile.name, description: input.profile.description, benchmark: input.profile.benchmark, config: input.profile.config },
    methods: input.methods.map((m) => ({ name: m.name, description: m.description, preset: m.preset, overrides: m.overrides, la: m.la })),
    runs: runSummaries,
  };
  await writeFileAtomic(json, JSON.stringify(body, (_, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  return { markdown, json, figures };
}
