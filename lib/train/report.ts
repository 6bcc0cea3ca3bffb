// The run's report folder: loss.png and map.png (lib/report plots), summary.txt
// (overall, per-class and challenging-subset tables), val_detections.json (COCO
// results of the final validation, for `laxray eval`) and a few annotated
// validation images under detections/.
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../atomic_file.js';
import type { LaxrayConfig } from '../config/index.js';
import type { Dataset } from '../data/index.js';
import { STAT_NAMES, type CocoEvalResult } from '../eval/index.js';
import { annotateImage, writeTrainingReport, type MetricRecord, type SummarySection, type TableRow } from '../report/index.js';
import type { Evaluation } from './evaluate_detector.js';
import type { LossRecord, ValidationRecord } from '../checkpoint/run_dir.js';

export interface RunReportInput {
  config: LaxrayConfig;
  lossHistory: readonly LossRecord[];
  validationHistory: readonly ValidationRecord[];
  /** Final evaluation on the validation set, or null. */
  evaluation: Evaluation | null;
  valSet: Dataset | null;
  /** Annotated validation images to write (0: none). */
  samples: number;
  /** Draw detections scoring at least this on them (default 0.3). */
  drawThreshold?: number;
  training: { iterations: number; epochs: number; seconds: number; nonFinite: number };
}

export interface RunReportFiles {
  lossPlot?: string;
  metricPlot?: string;
  summary?: string;
  detectionsJson?: string;
  detections?: string[];
}

const PER_CLASS = ['AP', 'AP50', 'AP75', 'APs', 'APm', 'APl', 'AR100'] as const;

function statsRow(name: string, result: CocoEvalResult): TableRow {
  return { name, values: { ...result.stats, mAP50: result.mAP50 ?? -1 } };
}

function perClassRows(result: CocoEvalResult): TableRow[] {
  return result.perClass.map((c) => ({ name: c.name, values: Object.fromEntries(PER_CLASS.map((k) => [k, c[k] ?? -1])) }));
}

/** The summary tables of a finished run (percent; '-' where a class has no ground truth). */
export function summarySections(input: Pick<RunReportInput, 'evaluation' | 'training'> & { setName?: string }): SummarySection[] {
  const { evaluation, training } = input;
  const setName = input.setName ?? 'validation';
  const Set = setName.charAt(0).toUpperCase() + setName.slice(1);
  const sections: SummarySection[] = [
    {
      title: 'Training',
      rows: [{ name: 'run', values: { iterations: training.iterations, epochs: training.epochs, minutes: training.seconds / 60, 'non-finite steps': training.nonFinite } }],
      options: { percent: false, digits: 1, nameHeader: '' },
    },
  ];
  if (evaluation === null) return sections;
  const overall = evaluation.overall;
  sections.push({
    title: `${Set}: COCO bbox (pycocotools), ${overall.counts.images} images, ${overall.counts.groundTruth} objects (%)`,
    rows: [statsRow('all images', overall), ...(evaluation.challenging ? [statsRow('challenging subset', evaluation.challenging)] : [])],
    options: { columns: [...STAT_NAMES, 'mAP50'], nameHeader: 'images' },
  });
  sections.push({ title: `Per class, all ${setName} images (%)`, rows: perClassRows(overall), options: { columns: [...PER_CLASS], nameHeader: 'class' } });
  if (evaluation.challenging) {
    const ch = evaluation.challenging;
    sections.push({
      title: `Per class, challenging subset: ${ch.counts.images} images with heavy overlap or low contrast (%)`,
      rows: perClassRows(ch),
      options: { columns: [...PER_CLASS], nameHeader: 'class' },
    });
  }
  return sections;
}

/** Writes the report folder; returns the files written. */
export async function writeRunReport(dir: string, input: RunReportInput): Promise<RunReportFiles> {
  await mkdir(dir, { recursive: true });
  const metrics: MetricRecord[] = input.validationHistory.map((r) => ({
    epoch: r.epoch,
    values: {
      AP: r.stats.AP ?? -1,
      AP50: r.stats.AP50 ?? -1,
      ...(r.challenging ? { 'AP (challenging)': r.challenging.stats.AP ?? -1, 'AP50 (challenging)': r.challenging.stats.AP50 ?? -1 } : {}),
    },
  }));
  const written = await writeTrainingReport(dir, {
    losses: input.lossHistory.map((r) => ({ iteration: r.iteration, losses: r.losses })),
    metrics,
    summary: summarySections(input),
  });
  const files: RunReportFiles = { ...written };
  const { evaluation, valSet } = input;
  if (evaluation !== null && valSet !== null) {
    files.detectionsJson = path.join(dir, 'val_detections.json');
    await writeFileAtomic(files.detectionsJson, JSON.stringify(evaluation.detections.results) + '\n');
    if (input.samples > 0) {
      // challenging images first: that is where overlap handling shows
      const challenging = new Set(evaluation.challengingImageIds);
      const ordered = [...valSet.images].sort((a, b) => Number(challenging.has(b.id)) - Number(challenging.has(a.id)) || a.id - b.id);
      const sampleDir = path.join(dir, 'detections');
      await mkdir(sampleDir, { recursive: true });
      files.detections = [];
      for (const image of ordered.slice(0, input.samples)) {
        const dets = evaluation.detections.byImage.get(image.id) ?? [];
        const png = await annotateImage(image.path, dets, { scoreThreshold: input.drawThreshold ?? 0.3 });
        const out = path.join(sampleDir, `${path.basename(image.fileName, path.extname(image.fileName))}.png`);
        await writeFileAtomic(out, png);
        files.detections.push(out);
      }
    }
  }
  return files;
}
