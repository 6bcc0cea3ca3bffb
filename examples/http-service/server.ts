// An HTTP detection service around a trained laxray run.
//
//   POST /detect   body: the image bytes (PNG, JPEG, TIFF, ...)
//                  → 200 {"detections": [{"box": [x1, y1, x2, y2], "score", "label", "category"}], "batchSize", "ms"}
//   GET  /stats    → requests, batches, mean batch size, queue length, latency and
//                    event-loop delay percentiles (ms)
//   GET  /healthz  → {"ok": true}
//
// Resources are bounded: a body larger than `maxBodyBytes` gets 413; more
// than `maxConcurrent` requests in progress, or request bodies held past
// `maxBufferedBytes` in total, get 503 (Retry-After); a request whose headers
// or body do not arrive within `headersTimeoutMs` / `requestTimeoutMs` gets
// 408 and its connection is closed; at most `maxConnections` sockets are open.
// Refusals never reset the connection (see body.ts).
//
// Concurrent requests are micro-batched: a batch is sent to the detector as
// soon as `maxBatch` requests are waiting or the oldest has waited `maxWaitMs`,
// whichever comes first; while a batch runs, new requests queue for the next.
// Decoding and resizing run on worker threads (lib/data's Preprocessor) and the
// network runs on the addon's worker thread, so the event loop only parses
// HTTP and writes JSON. Its delay is measured with perf_hooks'
// monitorEventLoopDelay and reported on /stats.
//
// Run it:
//   node --import tsx examples/http-service/server.ts --run runs/demo/run [--port 8080] [--max-batch 8] [--max-wait-ms 10]
//        [--max-body-mb 32] [--max-concurrent 64]
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Preprocessor, type Batch } from '../../lib/data/index.js';
import { Detector, type Detection } from '../../lib/detector.js';
import type { LaxrayConfig } from '../../lib/config/index.js';
import { LaxrayError } from '../../lib/errors.js';
import { declaredLength, HttpError, readBody, refuse } from './body.js';

/** What the service needs of a detector (lib/detector.ts's Detector). */
export interface ServiceDetector {
  readonly config: LaxrayConfig;
  detect(input: Batch): Promise<Detection[][]>;
}

export interface DetectionServiceOptions {
  detector: ServiceDetector;
  /** Most images per forward pass. Default 8. */
  maxBatch?: number;
  /** Longest a request waits for others to join its batch (ms). Default 10. */
  maxWaitMs?: number;
  /** Decode / resize worker threads. Default 2. */
  workers?: number;
  /** Largest accepted body (bytes); larger gets 413. Default 32 MiB. */
  maxBodyBytes?: number;
  /** Request bodies held at once (being read, queued or detected), in bytes; past it, 503. Default 256 MiB. */
  maxBufferedBytes?: number;
  /** /detect requests in progress at once (reading, queued, detecting); more get 503. Default 64. */
  maxConcurrent?: number;
  /** The whole request (headers and body) must arrive within this (ms); else 408 and the connection closes. Default 30 000. */
  requestTimeoutMs?: number;
  /** The headers must arrive within this (ms). Default 10 000. */
  headersTimeoutMs?: number;
  /** After a refusal, how long the rest of a body is read and discarded before the connection is cut (ms). Default 5 000. */
  lingerMs?: number;
  /** Open connections at most; more are closed at once. Default 256. */
  maxConnections?: number;
}

interface Pending {
  image: Uint8Array;
  enqueued: number;
  resolve: (value: { detections: Detection[]; batchSize: number }) => void;
  reject: (error: unknown) => void;
}

const ms = (ns: number): number => Math.round((ns / 1e6) * 1000) / 1000;

export class DetectionService {
  readonly maxBatch: number;
  readonly maxWaitMs: number;
  readonly server: http.Server;
  private readonly detector: ServiceDetector;
  private readonly preprocessor: Preprocessor;
  private readonly limits: Required<Pick<DetectionServiceOptions, 'maxBodyBytes' | 'maxBufferedBytes' | 'maxConcurrent' | 'lingerMs'>>;
  /** /detect requests admitted and not yet answered, and the body bytes they hold. */
  private active = 0;
  private buffered = 0;
  private readonly queue: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private readonly loopDelay: IntervalHistogram;
  private readonly counters = { requests: 0, errors: 0, refused: 0, batches: 0, images: 0, largestBatch: 0 };
  private latencies: number[] = [];

  constructor(options: DetectionServiceOptions) {
    this.detector = options.detector;
    this.maxBatch = options.maxBatch ?? 8;
    this.maxWaitMs = options.maxWaitMs ?? 10;
    this.limits = {
      maxBodyBytes: options.maxBodyBytes ?? 32 * 1024 * 1024,
      maxBufferedBytes: options.maxBufferedBytes ?? 256 * 1024 * 1024,
      maxConcurrent: options.maxConcurrent ?? 64,
      lingerMs: options.lingerMs ?? 5_000,
    };
    const requestTimeout = options.requestTimeoutMs ?? 30_000;
    const headersTimeout = Math.min(options.headersTimeoutMs ?? 10_000, requestTimeout);
    if (!(Number.isInteger(this.maxBatch) && this.maxBatch >= 1)) throw new LaxrayError('INVALID_ARGUMENT', `maxBatch must be an integer ≥ 1, got ${this.maxBatch}`);
    if (!(this.maxWaitMs >= 0)) throw new LaxrayError('INVALID_ARGUMENT', `maxWaitMs must be ≥ 0, got ${this.maxWaitMs}`);
    for (const [name, value] of Object.entries({ ...this.limits, requestTimeoutMs: requestTimeout, headersTimeoutMs: headersTimeout })) {
      if (!(Number.isSafeInteger(value) && value >= 1)) throw new LaxrayError('INVALID_ARGUMENT', `${name} must be an integer ≥ 1, got ${value}`);
    }
    const { imageScale, mean, std, padDivisor } = this.detector.config.data;
    this.preprocessor = new Preprocessor({ scale: imageScale, mean, std, sizeDivisor: padDivisor, workers: options.workers ?? 2 });
    this.loopDelay = monitorEventLoopDelay({ resolution: 5 });
    this.loopDelay.enable();
    this.server = http.createServer(
      {
        requestTimeout: requestTimeout,
        headersTimeout: headersTimeout,
        // how often Node checks those timeouts (default 30 s, far coarser than them)
        connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(headersTimeout / 4))),
        maxHeaderSize: 16 * 1024,
      },
      (req, res) => void this.handle(req, res),
    );
    this.server.maxConnections = options.maxConnections ?? 256;
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  listen(port = 8080, host = '127.0.0.1'): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve(this.server.address() as AddressInfo));
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    clearTimeout(this.timer);
    for (const p of this.queue.splice(0)) p.reject(new HttpError(503, 'the service is shutting down'));
    this.loopDelay.disable();
    await this.preprocessor.close();
  }

  /** Detections for one encoded image, batched with whatever else is waiting. */
  detect(image: Uint8Array): Promise<{ detections: Detection[]; batchSize: number }> {
    return new Promise((resolve, reject) => {
      this.queue.push({ image, enqueued: performance.now(), resolve, reject });
      this.schedule();
    });
  }

  stats(): Record<string, unknown> {
    const h = this.loopDelay;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const q = (p: number) => (sorted.length === 0 ? 0 : Math.round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]! * 1000) / 1000);
    return {
      ...this.counters,
      active: this.active,
      bufferedBytes: this.buffered,
      meanBatchSize: this.counters.batches === 0 ? 0 : this.counters.images / this.counters.batches,
      queued: this.queue.length,
      maxBatch: this.maxBatch,
      maxWaitMs: this.maxWaitMs,
      latencyMs: { p50: q(0.5), p99: q(0.99), max: sorted.length ? sorted[sorted.length - 1] : 0 },
      eventLoopDelayMs: { mean: ms(h.mean), p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), samples: h.count },
    };
  }

  /** Clears the event-loop delay histogram and the latency sample (e.g. after a warm-up). */
  resetStats(): void {
    this.loopDelay.reset();
    this.latencies = [];
  }

  private schedule(): void {
    if (this.busy || this.queue.length === 0) return;
    if (this.queue.length >= this.maxBatch) {
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.flush();
    } else if (this.timer === undefined) {
      const wait = Math.max(0, this.maxWaitMs - (performance.now() - this.queue[0]!.enqueued));
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, wait);
    }
  }

  private async flush(): Promise<void> {
    if (this.busy || this.queue.length === 0) return;
    this.busy = true;
    const items = this.queue.splice(0, this.maxBatch);
    try {
      await this.run(items);
    } finally {
      this.busy = false;
      // requests that arrived meanwhile have waited long enough: go now
      if (this.queue.length > 0) void this.flush();
    }
  }

  private async run(items: Pending[]): Promise<void> {
    let results: Detection[][];
    try {
      const batch = await this.preprocessor.prepare(items.map((p) => p.image));
      results = await this.detector.detect(batch);
    } catch (err) {
      if (items.length === 1) {
        items[0]!.reject(err);
        return;
      }
      // one bad image fails the whole batch: find it by running each on its own
      for (const item of items) await this.run([item]);
      return;
    }
    this.counters.batches++;
    this.counters.images += items.length;
    this.counters.largestBatch = Math.max(this.counters.largestBatch, items.length);
    items.forEach((p, i) => p.resolve({ detections: results[i]!, batchSize: items.length }));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = performance.now();
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (req.method === 'GET' && url.pathname === '/stats') return send(res, 200, this.stats());
      if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { ok: true });
      if (url.pathname !== '/detect') throw new HttpError(404, `no route ${req.method} ${url.pathname}: use POST /detect, GET /stats`);
      if (req.method !== 'POST') throw new HttpError(405, 'POST the image bytes to /detect');
      this.counters.requests++;
      const body = await this.admitAndRead(req, res);
      if (body.length === 0) throw new HttpError(400, 'empty body: POST the image file bytes (PNG, JPEG, TIFF, ...)');
      const { detections, batchSize } = await this.detect(body);
      const elapsed = performance.now() - started;
      this.latencies.push(elapsed);
      if (this.latencies.length > 10_000) this.latencies.splice(0, 5_000);
      send(res, 200, { detections, batchSize, ms: Math.round(elapsed * 100) / 100 });
    } catch (err) {
      this.counters.errors++;
      if (err instanceof HttpError && !req.complete) {
        // the body is still coming (or was never read): answer, discard the rest, close
        this.counters.refused++;
        return refuse(req, res, err, this.limits.lingerMs);
      }
      const status = err instanceof HttpError ? err.status : err instanceof LaxrayError && (err.code === 'INVALID_IMAGE' || err.code === 'INVALID_ARGUMENT') ? 400 : 500;
      send(res, status, { error: err instanceof Error ? err.message : String(err), ...(err instanceof LaxrayError ? { code: err.code } : {}) }, err instanceof HttpError ? err.headers : {});
    }
  }

  /**
   * Admits a /detect request within the limits and reads its body: 413 for a
   * body over maxBodyBytes, 503 past maxConcurrent requests or maxBufferedBytes
   * of bodies. What it holds is given back when the response is done or the
   * connection goes away.
   */
  private async admitAndRead(req: http.IncomingMessage, res: http.ServerResponse): Promise<Buffer> {
    const { maxBodyBytes, maxBufferedBytes, maxConcurrent } = this.limits;
    const declared = declaredLength(req);
    if (declared !== undefined && declared > maxBodyBytes) throw new HttpError(413, `body of ${declared} bytes is larger than ${maxBodyBytes}: send a smaller image`);
    const busy = () => new HttpError(503, `the service is busy (${this.active} requests, ${this.buffered} body bytes held); retry shortly`, { 'retry-after': '1' });
    if (this.active >= maxConcurrent || this.buffered + (declared ?? 0) > maxBufferedBytes) throw busy();
    let held = declared ?? 0;
    this.active++;
    this.buffered += held;
    res.once('close', () => {
      this.active--;
      this.buffered -= held;
    });
    return readBody(req, declared, {
      maxBytes: maxBodyBytes,
      grow: (bytes) => {
        if (this.buffered + bytes > maxBufferedBytes) return false;
        held += bytes;
        this.buffered += bytes;
        return true;
      },
    });
  }
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Command line: load a run and serve it until SIGINT / SIGTERM. */
async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      run: { type: 'string' },
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      device: { type: 'string' },
      'max-batch': { type: 'string', default: '8' },
      'max-wait-ms': { type: 'string', default: '10' },
      'max-body-mb': { type: 'string', default: '32' },
      'max-concurrent': { type: 'string', default: '64' },
    },
  });
  if (values.run === undefined) {
    process.stderr.write(
      'usage: node --import tsx examples/http-service/server.ts --run <run dir | weights.safetensors> [--port 8080] [--host 127.0.0.1] [--device cpu|cuda] [--max-batch 8] [--max-wait-ms 10] [--max-body-mb 32] [--max-concurrent 64]\n',
    );
    process.exit(2);
  }
  const detector = await Detector.load(values.run, values.device !== undefined ? { device: values.device as 'cpu' } : {});
  const service = new DetectionService({
    detector,
    maxBatch: Number(values['max-batch']),
    maxWaitMs: Number(values['max-wait-ms']),
    maxBodyBytes: Math.round(Number(values['max-body-mb']) * 1024 * 1024),
    maxConcurrent: Number(values['max-concurrent']),
  });
  const address = await service.listen(Number(values.port), values.host);
  process.stderr.write(`laxray detection service on http://${address.address}:${address.port} (POST /detect, GET /stats), run ${values.run}, device ${detector.config.device}\n`);
  const stop = (): void => {
    void service.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
