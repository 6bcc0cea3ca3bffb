// examples/http-service: 50 concurrent POST /detect requests are micro-batched,
// each answer equals single-image detector.detect on the same image, and the
// event loop stays responsive (monitorEventLoopDelay p99) while the network runs.
import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveConfig } from '../lib/config/index.js';
import { Detector, type Detection } from '../lib/detector.js';
import type { Batch } from '../lib/data/index.js';
import { generateDataset } from '../lib/data/synth/generate.js';
import { DetectionService } from '../examples/http-service/server.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'laxray-http-'));

async function nativeDetect(): Promise<Detector | null> {
  try {
    const detector = await Detector.create(
      resolveConfig({
        preset: 'atss-lacls',
        model: {
          backbone: { depth: 18 },
          neck: { outChannels: 64 },
          head: { featChannels: 64, stackedConvs: 1 },
          // an untrained model scores ~0.01: a low threshold gives every image detections to compare
          test: { scoreThreshold: 0.001, maxPerImage: 20 },
        },
        data: { imageScale: [128, 128], workers: 0 },
      }),
    );
    await detector.detect(Buffer.from(await (await import('sharp')).default({ create: { width: 64, height: 64, channels: 3, background: '#808080' } }).png().toBuffer()));
    return detector;
  } catch {
    return null;
  }
}

function close(a: Detection[], b: Detection[]): string | null {
  if (a.length !== b.length) return `${a.length} vs ${b.length} detections`;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.label !== y.label || x.category !== y.category) return `detection ${i}: label ${x.label} vs ${y.label}`;
    if (Math.abs(x.score - y.score) > 1e-4) return `detection ${i}: score ${x.score} vs ${y.score}`;
    for (let k = 0; k < 4; k++) if (Math.abs(x.box[k]! - y.box[k]!) > 1e-2) return `detection ${i}: box ${x.box} vs ${y.box}`;
  }
  return null;
}

/** A stand-in for the network: one "detection" per image from its own pixels, after 20 ms on a timer. */
const fakeDetector = {
  config: resolveConfig({ data: { imageScale: [128, 128] } }),
  calls: [] as number[],
  async detect(batch: Batch): Promise<Detection[][]> {
    this.calls.push(batch.metas.length);
    await new Promise((r) => setTimeout(r, 20));
    const [, , H, W] = batch.shape;
    return batch.metas.map((m, i) => {
      let sum = 0;
      for (let c = 0; c < 3; c++) for (let y = 0; y < m.resizedHeight; y++) for (let x = 0; x < m.resizedWidth; x++) sum += batch.data[((i * 3 + c) * H + y) * W + x]!;
      return [{ box: [0, 0, m.originalWidth, m.originalHeight], score: sum / (3 * m.resizedWidth * m.resizedHeight), label: 0, category: 'blade' }];
    });
  },
};

test('micro-batching: concurrent requests share batches up to maxBatch and each gets its own answer', async (t) => {
  const sharp = (await import('sharp')).default;
  const images = await Promise.all(
    Array.from({ length: 12 }, (_, i) => sharp({ create: { width: 40 + 8 * i, height: 30 + 4 * i, channels: 3, background: { r: 20 * i, g: 200 - 10 * i, b: 90 } } }).png().toBuffer()),
  );
  const service = new DetectionService({ detector: fakeDetector, maxBatch: 5, maxWaitMs: 30, workers: 1 });
  const { port } = await service.listen(0, '127.0.0.1');
  try {
    const single: Detection[][] = [];
    for (const image of images) single.push(((await (await fetch(`http://127.0.0.1:${port}/detect`, { method: 'POST', body: image })).json()) as { detections: Detection[] }).detections);
    t.true(fakeDetector.calls.every((n) => n === 1), 'one at a time: batches of one');
    fakeDetector.calls.length = 0;
    const answers = await Promise.all(images.map(async (image) => (await (await fetch(`http://127.0.0.1:${port}/detect`, { method: 'POST', body: image })).json()) as { detections: Detection[]; batchSize: number }));
    t.true(Math.max(...fakeDetector.calls) > 1 && Math.max(...fakeDetector.calls) <= 5, `batch sizes ${fakeDetector.calls}`);
    t.is(fakeDetector.calls.reduce((a, b) => a + b, 0), 12);
    answers.forEach((a, i) => {
      t.deepEqual(a.detections[0]!.box, single[i]![0]!.box, `request ${i} got its own image's answer`);
      t.true(Math.abs(a.detections[0]!.score - single[i]![0]!.score) < 1e-5);
    });
  } finally {
    await service.close();
  }
});

test('50 concurrent requests are micro-batched and match single-image detection; the event loop stays free', async (t) => {
  const detector = await nativeDetect();
  if (detector === null) {
    t.log('skipped: the addon has no detect');
    t.pass();
    return;
  }
  const d = detector;
  // 10 different scans of one size (so a batch pads them exactly as a single image is padded)
  await generateDataset({ outDir: tmp, count: 10, seed: 5, recipe: { width: 128, height: 96 }, workers: 1 });
  const images = Array.from({ length: 10 }, (_, i) => readFileSync(path.join(tmp, 'images', `${String(i + 1).padStart(6, '0')}.png`)));
  const expected: Detection[][] = [];
  for (const image of images) expected.push(await d.detect(image));
  t.true(expected.every((e) => e.length > 0), 'every image has detections to compare');

  const service = new DetectionService({ detector: d, maxBatch: 8, maxWaitMs: 15, workers: 1 });
  const { port } = await service.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}`;
  try {
    // warm-up, then measure from a clean histogram
    await fetch(`${url}/detect`, { method: 'POST', body: images[0]! });
    service.resetStats();
    const answers = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const res = await fetch(`${url}/detect`, { method: 'POST', body: images[i % images.length]!, headers: { 'content-type': 'application/octet-stream' } });
        t.is(res.status, 200);
        return { i, body: (await res.json()) as { detections: Detection[]; batchSize: number } };
      }),
    );
    for (const { i, body } of answers) {
      const problem = close(body.detections, expected[i % images.length]!);
      t.is(problem, null, `request ${i}`);
    }
    const stats = (await (await fetch(`${url}/stats`)).json()) as {
      batches: number;
      images: number;
      largestBatch: number;
      eventLoopDelayMs: { p99: number; max: number };
    };
    t.is(stats.images, 51);
    t.true(stats.largestBatch > 1, `requests were batched (largest batch ${stats.largestBatch})`);
    t.true(stats.batches < 51, `${stats.batches} batches for 51 requests`);
    t.log(`batches ${stats.batches}, largest ${stats.largestBatch}, event-loop delay p99 ${stats.eventLoopDelayMs.p99} ms, max ${stats.eventLoopDelayMs.max} ms`);
    t.true(stats.eventLoopDelayMs.p99 < 100, `event-loop delay p99 ${stats.eventLoopDelayMs.p99} ms`);

    // errors are answers, not crashes
    const bad = await fetch(`${url}/detect`, { method: 'POST', body: Buffer.from('not an image') });
    t.is(bad.status, 400);
    t.regex(((await bad.json()) as { error: string }).error, /input 0/);
    const empty = await fetch(`${url}/detect`, { method: 'POST', body: Buffer.alloc(0) });
    t.is(empty.status, 400);
    t.is((await fetch(`${url}/nowhere`)).status, 404);
    t.is((await fetch(`${url}/detect`)).status, 405);
  } finally {
    await service.close();
  }
});
