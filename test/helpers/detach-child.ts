// Run in a child process by hardening-core.test.ts (node --expose-gc --import tsx):
// calls bindings of the addon directly with typed arrays that view a 64 MiB
// ArrayBuffer and, right after each call returns — while the work still waits
// behind a detect holding the model or a full libuv pool — either transfers
// that buffer away and has it freed ('detach') or overwrites it ('mutate').
// Prints one JSON line per binding: the digest of that call's result and of
// the same call made on an untouched copy. A binding that kept a pointer into
// the caller's array reads unmapped memory here (SIGSEGV) or computes on the
// overwritten values.
//   usage: node --expose-gc --import tsx test/helpers/detach-child.ts <detach|mutate>
import { native, type NativeDetectorHandle, type TensorData } from '../../lib/native.js';
import { resolveConfig } from '../../lib/config/index.js';
import { digest, randomBatch, smallConfig, trainingBatch } from './small-detector.js';

const action = process.argv[2];
if (action !== 'detach' && action !== 'mutate') throw new Error('usage: detach-child.ts <detach|mutate>');
const collect = (globalThis as { gc?: () => void }).gc;
if (collect === undefined) throw new Error('run with node --expose-gc');

/** Larger than glibc's largest mmap threshold (32 MiB): freeing it unmaps it. */
const BIG = 64 * 1024 * 1024;
const model = resolveConfig(smallConfig()).model;
const SIZE = 64;
const metas = [{ inputWidth: SIZE, inputHeight: SIZE, scaleX: 1, scaleY: 1, originalWidth: SIZE, originalHeight: SIZE }];

/** Typed arrays holding `parts`, one after the other, in one fresh 64 MiB buffer. */
function inBigBuffer<T extends Float32Array | Int32Array>(...parts: T[]): { views: T[]; buffer: ArrayBuffer } {
  const buffer = new ArrayBuffer(BIG);
  let offset = 0;
  const views = parts.map((part) => {
    const view = new (part.constructor as new (b: ArrayBuffer, o: number, n: number) => T)(buffer, offset, part.length);
    view.set(part);
    offset += part.byteLength;
    return view;
  });
  return { views, buffer };
}

/** What the caller does right after the call returned. */
function spoil(buffer: ArrayBuffer): void {
  if (action === 'detach') {
    structuredClone(buffer, { transfer: [buffer] }); // the clone is dropped at once...
    collect!(); // ...and its memory freed
  } else {
    new Uint8Array(buffer).fill(0x7f); // 3.4e38 in every float, 2139062143 in every int
  }
}

async function settle(promise: Promise<unknown>): Promise<unknown> {
  try {
    return await promise;
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Submits four detects on another detector so the next call waits for a libuv pool thread. */
async function fillPool(): Promise<() => Promise<unknown>> {
  const busy = await native.createDetector(model, 'cpu', 1);
  const input = randomBatch(1, 256, 256, 9);
  const pending = Array.from({ length: 4 }, () => busy.detect(input.data, input.shape, [{ ...metas[0]!, inputWidth: 256, inputHeight: 256, originalWidth: 256, originalHeight: 256 }]));
  return () => Promise.all(pending);
}

/** Holds the model's lock for a while (a detect on a larger image) so the next call on it waits. */
function holdModel(handle: NativeDetectorHandle): Promise<unknown> {
  const input = randomBatch(2, 256, 256, 5);
  const meta = { ...metas[0]!, inputWidth: 256, inputHeight: 256, originalWidth: 256, originalHeight: 256 };
  return handle.detect(input.data, input.shape, [meta, meta]);
}

type Case = (spoiled: boolean) => Promise<unknown>;

const images = randomBatch(1, SIZE, SIZE, 3).data;

const cases: Record<string, Case> = {
  async detect(spoiled) {
    const handle = await native.createDetector(model, 'cpu', 7);
    const { views, buffer } = inBigBuffer(images);
    const blocker = holdModel(handle);
    const result = settle(handle.detect(views[0]!, [1, 3, SIZE, SIZE], metas));
    if (spoiled) spoil(buffer);
    await blocker;
    return result;
  },
  async inspect(spoiled) {
    const handle = await native.createDetector(model, 'cpu', 7);
    const { views, buffer } = inBigBuffer(images);
    const blocker = holdModel(handle);
    const result = settle(handle.inspect(views[0]!, [1, 3, SIZE, SIZE]));
    if (spoiled) spoil(buffer);
    await blocker;
    return result;
  },
  async trainStep(spoiled) {
    const handle = await native.createDetector(model, 'cpu', 7);
    const batch = trainingBatch(2, SIZE, 4);
    const { views, buffer } = inBigBuffer(batch.data, ...batch.targets.map((t) => t.boxes));
    const labels = inBigBuffer(...batch.targets.map((t) => t.labels));
    const targets = batch.targets.map((_, i) => ({ boxes: views[i + 1]!, labels: labels.views[i]! }));
    const blocker = holdModel(handle);
    const result = settle(handle.trainStep(views[0]!, [...batch.shape], targets, 0.01));
    if (spoiled) {
      spoil(buffer);
      spoil(labels.buffer);
    }
    await blocker;
    return { result: await result, state: await handle.stateDict() };
  },
  async loadStateDict(spoiled) {
    const handle = await native.createDetector(model, 'cpu', 7);
    const source = await (await native.createDetector(model, 'cpu', 11)).stateDict();
    const names = Object.keys(source).filter((n) => source[n]!.data instanceof Float32Array);
    const { views, buffer } = inBigBuffer(...names.map((n) => source[n]!.data as Float32Array));
    const entries: Record<string, TensorData> = Object.fromEntries(names.map((n, i) => [n, { data: views[i]!, shape: source[n]!.shape }]));
    const blocker = holdModel(handle);
    const result = settle(handle.loadStateDict(entries, { what: 'test entries' }));
    if (spoiled) spoil(buffer);
    await blocker;
    return { result: await result, state: await handle.stateDict() };
  },
  async tensorFrom(spoiled) {
    const { views, buffer } = inBigBuffer(images);
    const drain = await fillPool();
    const result = settle(native.tensorFrom(views[0]!, [images.length], 'cpu'));
    if (spoiled) spoil(buffer);
    await drain();
    const tensor = await result;
    return 'error' in (tensor as object) ? tensor : (tensor as { toArray(): Promise<TensorData> }).toArray();
  },
  async nms(spoiled) {
    const boxes = Float32Array.from({ length: 400 }, (_, i) => (i % 4 < 2 ? (i * 7) % 50 : 50 + ((i * 13) % 50)));
    const scores = Float32Array.from({ length: 100 }, (_, i) => ((i * 37) % 100) / 100);
    const { views, buffer } = inBigBuffer(boxes, scores);
    const drain = await fillPool();
    const result = settle(native.nms(views[0]!, views[1]!, 0.5));
    if (spoiled) spoil(buffer);
    await drain();
    return result;
  },
};

for (const [name, run] of Object.entries(cases)) {
  const touched = digest(await run(true));
  const untouched = digest(await run(false));
  process.stdout.write(JSON.stringify({ binding: name, touched, untouched }) + '\n');
}
