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
      const records: SampleRecord[] = [];
      for (const i of msg.indices) records.push(await writeSampleFiles(generateSample(job.seed, i, job.recipe, scratch), job.outDir, job.raw));
      port.postMessage({ type: 'done', records } satisfies WorkerReply);
    } catch (err) {
      port.postMessage({ type: 'error', message: (err as Error).message, ...(err instanceof LaxrayError ? { code: err.code } : {}) } satisfies WorkerReply);
    }
  })();
});
