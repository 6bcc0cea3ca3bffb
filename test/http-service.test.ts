// examples/http-service: 50 concurrent POST /detect requests are micro-batched,
// each answer equals single-image detector.detect on the same image, and the
// event loop stays responsive (monitorEventLoopDelay p99) while the network runs.
import test from 'ava';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { resolveConfig } from '../lib/config/index.js';
import { Detector, type Detection } from '../lib/detector.js';
import type { Batch } from '../lib/data/index.js';
import { generateDataset } from '../lib/data/synth/generate.js';
import { DetectionService } from '../examples/http-service/server.js';
import { fixture } from './helpers/paths.js';
import { thinR18 } from './helpers/small-detector.js';
import { tempDir } from './helpers/temp_dir.js';

const tmp = tempDir('http');

async function nativeDetect(): Promise<Detector | null> {
  try {
    const detector = await Detector.create(
      resolveConfig({
        preset: 'atss-lacls',
        model: {
          ...thinR18({ width: 64 }),
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

// ------------------------------------------------------------------ limits
// Serial: ava runs these before the concurrent tests above, so their 100 MB
// transfers never share the machine with the latency and batching checks.

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** An error the client saw before the answer (a reset), if any. */
  error?: string;
}

/**
 * POSTs `total` bytes in `chunk`-sized writes (the same buffer again and
 * again, so the client holds one chunk). stopOnAnswer: a refusal stops the
 * sending, as curl does; otherwise the whole body is sent whatever comes back.
 */
function postStream(port: number, total: number, chunk: Buffer, options: { chunked?: boolean; stopOnAnswer?: boolean } = {}): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const headers: http.OutgoingHttpHeaders = options.chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': total };
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/detect', headers });
    let answered = false;
    let stopped = false;
    let sent = 0;
    const guard = setTimeout(() => {
      req.destroy();
      resolve({ status: -1, headers: {}, body: '', error: 'no answer within 120 s' });
    }, 120_000);
    req.on('response', (res) => {
      answered = true;
      if (options.stopOnAnswer && res.statusCode !== 200) stopped = true;
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        clearTimeout(guard);
        if (stopped) req.destroy();
        resolve({ status: res.statusCode!, headers: res.headers, body });
      });
    });
    req.on('error', (err) => {
      clearTimeout(guard);
      if (!answered) resolve({ status: 0, headers: {}, body: '', error: (err as NodeJS.ErrnoException).code ?? err.message });
    });
    const pump = (): void => {
      while (sent < total && !stopped && !req.destroyed) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        if (!req.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return void req.once('drain', pump);
      }
      if (!stopped && !req.destroyed) req.end();
    };
    pump();
  });
}

/** A stand-in of its own, so these tests never touch the call counts the batching test checks. */
const ownStandIn = () => ({ ...fakeDetector, calls: [] as number[] });

const pngOf = async (w: number, h: number) => (await import('sharp')).default({ create: { width: w, height: h, channels: 3, background: '#446688' } }).png().toBuffer();

test.serial('a body over the limit gets 413 and a clean close, also for 100 MB and for a chunked body; the service goes on', async (t) => {
  const service = new DetectionService({ detector: ownStandIn(), workers: 1, maxBodyBytes: 8 * 1024 * 1024 });
  const { port } = await service.listen(0, '127.0.0.1');
  try {
    const mb = Buffer.alloc(1024 * 1024, 1);
    const declared = await postStream(port, 100 * 1024 * 1024, mb);
    t.is(declared.error, undefined, 'answered, not reset');
    t.is(declared.status, 413);
    t.is(declared.headers.connection, 'close');
    t.regex(JSON.parse(declared.body).error, /larger than 8388608/);
    const chunked = await postStream(port, 40 * 1024 * 1024, mb, { chunked: true });
    t.is(chunked.error, undefined, 'answered, not reset');
    t.is(chunked.status, 413);
    t.is((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    const ok = await fetch(`http://127.0.0.1:${port}/detect`, { method: 'POST', body: await pngOf(20, 10) });
    t.is(ok.status, 200);
    t.like(service.stats(), { active: 0, bufferedBytes: 0 });
  } finally {
    await service.close();
  }
});

test.serial('past maxConcurrent requests in progress the service answers 503 with Retry-After; admitted ones finish', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const standIn = ownStandIn();
  const held = { ...standIn, async detect(batch: Batch) {
    await gate;
    return standIn.detect(batch);
  } };
  const service = new DetectionService({ detector: held, workers: 1, maxBatch: 1, maxWaitMs: 0, maxConcurrent: 2 });
  const { port } = await service.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${port}/detect`;
  try {
    const image = await pngOf(16, 16);
    const first = [fetch(url, { method: 'POST', body: image }), fetch(url, { method: 'POST', body: image })];
    for (let i = 0; i < 200 && (service.stats().active as number) < 2; i++) await new Promise((r) => setTimeout(r, 10));
    t.is(service.stats().active, 2);
    const over = await fetch(url, { method: 'POST', body: image });
    t.is(over.status, 503);
    t.is(over.headers.get('retry-after'), '1');
    t.regex(((await over.json()) as { error: string }).error, /busy/);
    release();
    t.deepEqual((await Promise.all(first)).map((r) => r.status), [200, 200]);
    t.is((await fetch(url, { method: 'POST', body: image })).status, 200);
  } finally {
    release();
    await service.close();
  }
});

test.serial('a body that trickles in is cut at requestTimeoutMs with 408 and a closed connection', async (t) => {
  const service = new DetectionService({ detector: ownStandIn(), workers: 1, requestTimeoutMs: 1_000, headersTimeoutMs: 1_000 });
  const { port } = await service.listen(0, '127.0.0.1');
  try {
    const started = performance.now();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write('POST /detect HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789');
      });
      let data = '';
      socket.on('data', (c) => (data += c.toString()));
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
      setTimeout(() => reject(new Error('still open after 10 s')), 10_000).unref();
    });
    const seconds = (performance.now() - started) / 1000;
    t.regex(answer, /^HTTP\/1\.1 408/);
    t.true(seconds >= 0.9 && seconds < 5, `closed after ${seconds.toFixed(2)} s`);
  } finally {
    await service.close();
  }
});

test.serial('100 concurrent 30 MB bodies: memory stays bounded (peak RSS of the service process), every request gets an answer', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture('http', 'fake-service.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => child.kill('SIGKILL'));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (c: Buffer) => resolve(Number(c.toString().trim())));
    child.once('exit', (code) => reject(new Error(`the service exited (${code})`)));
  });
  const peakKiB = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]);
  const before = peakKiB();
  const chunk = randomBytes(1024 * 1024); // not an image: admitted bodies get 400 after being read whole
  const answers = await Promise.all(Array.from({ length: 100 }, () => postStream(port, 30 * 1024 * 1024, chunk, { stopOnAnswer: true })));
  const statuses = new Map<number, number>();
  for (const a of answers) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
  const peak = peakKiB();
  t.log(`statuses ${JSON.stringify(Object.fromEntries(statuses))}; service peak RSS ${(before / 1024).toFixed(0)} MiB before, ${(peak / 1024).toFixed(0)} MiB after 100 × 30 MB offered`);
  // 400: read whole, not an image; 503: refused (busy); 408: did not arrive within requestTimeoutMs on a loaded machine
  const answered = (a: RawAnswer) => a.status === 400 || a.status === 503 || a.status === 408;
  t.true(answers.every(answered), JSON.stringify(answers.filter((a) => !answered(a)).slice(0, 3)));
  t.true((statuses.get(503) ?? 0) > 0, 'the overload was refused');
  t.true((statuses.get(400) ?? 0) > 0, 'some were admitted and read');
  t.true(peak < 1024 * 1024, `peak RSS ${(peak / 1024).toFixed(0)} MiB (the default budget is 256 MiB of bodies)`);
  const stats = (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as { active: number; bufferedBytes: number };
  t.like(stats, { active: 0, bufferedBytes: 0 });
});
