// Soak: many detections on one detector keep the resident set flat (no leak of
// tensors, results or copies of the inputs). CI runs 300; `npm run soak` runs
// 2,000 (LAXRAY_SOAK_DETECTIONS sets the count). RSS is read after a warm-up
// (allocator pools, LibTorch's caches), half-way and at the end.
import test from 'ava';
import { Detector } from '../lib/detector.js';
import { setThreads } from '../lib/index.js';
import { randomBatch, smallConfig } from './helpers/small-detector.js';

setThreads(1);

const COUNT = Number(process.env.LAXRAY_SOAK_DETECTIONS ?? 300);
/** Allowed growth from the warm-up to the end: well above noise, far below a leak of the inputs (147 KiB each). */
const GROWTH_BOUND_MB = 48;

const IN_FLIGHT = 4;

const mb = (bytes: number) => bytes / 2 ** 20;

test(`RSS stays flat over ${COUNT} detections`, async (t) => {
  t.timeout(30 * 60_000);
  const detector = await Detector.create(smallConfig());
  const inputs = Array.from({ length: 8 }, (_, i) => randomBatch(1, 64 + 32 * (i % 3), 96, i + 1));
  const warmUp = Math.max(20, Math.round(COUNT / 10));
  const samples: Record<string, number> = {};
  let boxes = 0;
  let done = 0;
  const started = performance.now();
  while (done < warmUp + COUNT) {
    // a few calls in flight at once, as a service sees them
    const results = await Promise.all(Array.from({ length: IN_FLIGHT }, (_, k) => detector.detect(inputs[(done + k) % inputs.length]!)));
    boxes += results.reduce((sum, r) => sum + r.length, 0);
    done += IN_FLIGHT;
    if (samples.start === undefined && done >= warmUp) samples.start = process.memoryUsage().rss;
    if (samples.middle === undefined && done >= warmUp + COUNT / 2) samples.middle = process.memoryUsage().rss;
  }
  samples.end = process.memoryUsage().rss;
  const seconds = (performance.now() - started) / 1000;
  t.log(
    `${COUNT} detections after ${warmUp} warm-up ones in ${seconds.toFixed(1)} s; RSS start ${mb(samples.start!).toFixed(1)} MB, ` +
      `middle ${mb(samples.middle!).toFixed(1)} MB, end ${mb(samples.end).toFixed(1)} MB`,
  );
  t.true(boxes > 0);
  t.true(mb(samples.end - samples.start!) < GROWTH_BOUND_MB, `RSS grew by ${mb(samples.end - samples.start!).toFixed(1)} MB`);
});
