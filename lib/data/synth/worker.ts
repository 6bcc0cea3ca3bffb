// Worker thread of the dataset writer: renders and encodes the images it is
// sent (by index) and answers with their labels. Output depends only on
// (seed, index), so any distribution of work gives the same files.
import { parentPort } from 'node:worker_threads';
import { LaxrayError } from '../../errors.js';
import { generateSample, writeSampleFiles, type SampleRecord, type WorkerInit, type WorkerReply } from './generate.js';
import { RenderScratch } from './render.js';

const port = parentPort;
if (!port) throw new Error('lib/data/synth/worker.ts must run in a worker thread');
let init: WorkerInit | undefined;
const scratch = new RenderScratch();

port.on('message', (msg: ({ type: 'init' } & WorkerInit) | { type: 'task'; indices: number[] } | { type: 'stop' }) => {
  if (msg.type === 'init') {
    init = msg;
    return;
  }
  if (msg.type === 'stop') {
    port.close();
    return;
  }
  const job = init;
  if (!job) return;
  void (async () => {
    try {
      // encode image i (sharp's thread pool) while image i + 1 renders on this thread
      const pending: Promise<SampleRecord>[] = [];
      for (const i of msg.indices) {
        const sample = generateSample(job.seed, i, job.recipe, scratch);
        if (pending.length > 0) await pending[pending.length - 1];
        pending.push(writeSampleFiles(sample, job.outDir, job.raw));
      }
      port.postMessage({ type: 'done', records: await Promise.all(pending) } satisfies WorkerReply);
    } catch (err) {
      port.postMessage({ type: 'error', message: (err as Error).message, ...(err instanceof LaxrayError ? { code: err.code } : {}) } satisfies WorkerReply);
    }
  })();
});
