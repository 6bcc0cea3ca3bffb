// COCO evaluation speed: 5,000 images × 100 detections × 12 classes (plus 2–5
// ground-truth boxes per image), evaluated end to end (load + validate + match
// + accumulate + summarize + per-class and OPIXray-style tables), from JSON
// files and from memory. The data are generated deterministically (seeded), so
// runs are comparable. `seconds` is the median of 5 warm runs; `coldSeconds`
// the first run in the process. CPU seconds are reported too: on a shared
// machine they move less with other load than wall time (see loadAverage).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { evaluateCoco } from '../../lib/eval/evaluate.js';
import { evaluateCocoFiles } from '../../lib/eval/files.js';
import type { CocoDetection, CocoGroundTruth } from '../../lib/eval/types.js';
import { reportBenchmark } from './machine.js';
import { mulberry32 } from '../../lib/data/random.js';

export interface SyntheticEvalSet {
  groundTruth: CocoGroundTruth;
  detections: CocoDetection[];
}

const round2 = (v: number): number => Math.round(v * 100) / 100;

/**
 * A detector-like result set: per image 2–5 objects (a few crowd regions),
 * sizes spanning small/medium/large; 100 detections per image, a third of them
 * jittered copies of the objects (some with the wrong class), the rest clutter;
 * scores with 4 decimals, so ties occur as with real detectors' outputs.
 */
export function syntheticEvalSet(numImages = 5000, detsPerImage = 100, numClasses = 12, seed = 1): SyntheticEvalSet {
  const rand = mulberry32(seed);
  const images: CocoGroundTruth['images'] = [];
  const annotations: CocoGroundTruth['annotations'] = [];
  const categories = Array.from({ length: numClasses }, (_, c) => ({ id: c + 1, name: `class${c + 1}` }));
  const detections: CocoDetection[] = [];
  let annId = 1;
  for (let i = 0; i < numImages; i++) {
    const id = 100000 + i;
    const width = 373 + Math.floor(rand() * 360);
    const height = 200 + Math.floor(rand() * 1080);
    images.push({ id, width, height, file_name: `${id}.png` });
    const objects: { c: number; box: number[] }[] = [];
    const nObj = 2 + Math.floor(rand() * 4);
    for (let o = 0; o < nObj; o++) {
      const side = 12 * Math.exp(rand() * Math.log(25)); // 12 .. 300 px
      const w = round2(side * (0.6 + rand() * 0.8));
      const h = round2(side * (0.6 + rand() * 0.8));
      const x = round2(rand() * Math.max(1, width - w));
      const y = round2(rand() * Math.max(1, height - h));
      const c = 1 + Math.floor(rand() * numClasses);
      const iscrowd = rand() < 0.03 ? 1 : 0;
      annotations.push({ id: annId++, image_id: id, category_id: c, bbox: [x, y, w, h], area: round2(w * h * 0.8), iscrowd });
      objects.push({ c, box: [x, y, w, h] });
    }
    for (let d = 0; d < detsPerImage; d++) {
      let c: number;
      let box: number[];
      if (d < detsPerImage / 3) {
        const o = objects[d % objects.length]!;
        const [x, y, w, h] = o.box as [number, number, number, number];
        const j = 0.25 * rand();
        box = [x + (rand() - 0.5) * j * w, y + (rand() - 0.5) * j * h, w * (1 + (rand() - 0.5) * j), h * (1 + (rand() - 0.5) * j)];
        c = rand() < 0.8 ? o.c : 1 + Math.floor(rand() * numClasses);
      } else {
        const w = 8 + rand() * 250;
        const h = 8 + rand() * 250;
        box = [rand() * (width - w), rand() * (height - h), w, h];
        c = 1 + Math.floor(rand() * numClasses);
      }
      const score = Math.round((d < detsPerImage / 3 ? 0.3 + 0.7 * rand() : 0.05 + 0.5 * rand() ** 2) * 1e4) / 1e4;
      detections.push({ image_id: id, category_id: c, bbox: box.map((v) => Math.round(v * 1000) / 1000), score });
    }
  }
  return { groundTruth: { images, annotations, categories }, detections };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** CPU seconds of this process (all its threads) — robust to other load on a shared machine. */
function cpuSeconds(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1e6;
}

/**
 * Runs fn once cold (the first call in this process: JIT compilation included,
 * what a one-off `laxray eval` pays) and then `repeats` times warm (what
 * evaluation after every epoch pays); wall and CPU seconds of each run.
 */
async function timeRuns<R>(repeats: number, fn: () => R | Promise<R>): Promise<{ wall: number[]; cpu: number[]; coldWall: number; coldCpu: number; last: R }> {
  const cc = cpuSeconds();
  const ct = performance.now();
  let last = await fn();
  const coldWall = (performance.now() - ct) / 1000;
  const coldCpu = cpuSeconds() - cc;
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const c0 = cpuSeconds();
    const t0 = performance.now();
    last = await fn();
    wall.push((performance.now() - t0) / 1000);
    cpu.push(cpuSeconds() - c0);
  }
  return { wall, cpu, coldWall, coldCpu, last };
}

export async function run(): Promise<void> {
  const numImages = 5000;
  const detsPerImage = 100;
  const numClasses = 12;
  const repeats = 5;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'laxray-eval-bench-'));
  try {
    const gtPath = path.join(dir, 'gt.json');
    const detPath = path.join(dir, 'results.json');
    let shapes: Record<string, number>;
    let genMs: number;
    {
      const t0 = performance.now();
      const set = syntheticEvalSet(numImages, detsPerImage, numClasses);
      genMs = performance.now() - t0;
      shapes = { images: numImages, detectionsPerImage: detsPerImage, classes: numClasses, groundTruth: set.groundTruth.annotations.length, detections: set.detections.length };
      writeFileSync(gtPath, JSON.stringify(set.groundTruth));
      writeFileSync(detPath, JSON.stringify(set.detections));
    } // the 500k detection objects are dropped here: the file run starts from a small heap, as `laxray eval` does

    // From files: read + parse both JSON files, validate, evaluate.
    const files = await timeRuns(repeats, () => evaluateCocoFiles(gtPath, detPath));
    const sFile = median(files.wall);
    reportBenchmark('eval.coco.files', {
      device: 'cpu',
      shapes,
      what: 'read + parse both JSON files + validate + index + match + accumulate + summarize',
      seconds: sFile,
      secondsAll: files.wall,
      cpuSeconds: median(files.cpu),
      coldSeconds: files.coldWall,
      coldCpuSeconds: files.coldCpu,
      imagesPerSecond: numImages / sFile,
      stagesMs: files.last.timings,
      loadAverage: os.loadavg(),
      AP: files.last.stats.AP,
    });

    // In memory: parsed JSON objects in (regenerated: same seed, same data), stats out.
    const set = syntheticEvalSet(numImages, detsPerImage, numClasses);
    const mem = await timeRuns(repeats, () => evaluateCoco(set.groundTruth, set.detections));
    const sMem = median(mem.wall);
    reportBenchmark('eval.coco.memory', {
      device: 'cpu',
      shapes,
      what: 'validate + index + match + accumulate + summarize, inputs as parsed JSON objects',
      seconds: sMem,
      secondsAll: mem.wall,
      cpuSeconds: median(mem.cpu),
      coldSeconds: mem.coldWall,
      coldCpuSeconds: mem.coldCpu,
      imagesPerSecond: numImages / sMem,
      stagesMs: mem.last.timings,
      loadAverage: os.loadavg(),
      AP: mem.last.stats.AP,
      sameAsFiles: mem.last.statsArray.every((v, i) => v === files.last.statsArray[i]),
      generateMs: genMs,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
