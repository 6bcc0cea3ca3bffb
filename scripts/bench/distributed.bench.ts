// Data-parallel training throughput (images/s of the whole job) through
// `laxray train`, on synthetic data:
//   CPU: 1 process × 1 thread (batch B), 1 process × 2 threads (batch 2B), and
//        2 processes × 1 thread (batch B each, Gloo on 127.0.0.1; global 2B);
//   CUDA (when this build has NCCL and the machine GPUs): 1 process on one GPU
//        vs one process per GPU with NCCL.
// Throughput is read from rank 0's metrics.jsonl between the 3rd and the last
// step (start-up, warm-up and the first checkpoint excluded). The load average
// is part of each line: figures taken on a busy machine are pessimistic.
// Options (env): LAXRAY_BENCH_ITERS (default 12), LAXRAY_BENCH_SIZE (default 256),
// LAXRAY_BENCH_BATCH (per process, default 2).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateDataset } from '../../lib/data/synth/generate.js';
import { runtimeInfo } from '../../lib/runtime.js';
import { reportBenchmark } from './machine.js';
import { freePort } from '../free_port.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');


function laxray(args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'bin', 'laxray.js'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`laxray ${args.join(' ')} exited ${code}:\n${stderr.slice(-2000)}`))));
  });
}

/** Images per second of the job between its 3rd and last step. */
function throughput(runDir: string): { imagesPerSecond: number; steps: number } {
  const steps = readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; images: number; elapsedSeconds: number })
    .filter((e) => e.type === 'iteration');
  const timed = steps.slice(2);
  const images = timed.slice(1).reduce((sum, e) => sum + e.images, 0);
  const seconds = timed.at(-1)!.elapsedSeconds - timed[0]!.elapsedSeconds;
  return { imagesPerSecond: Math.round((images / seconds) * 100) / 100, steps: timed.length - 1 };
}

export async function run(): Promise<void> {
  const iterations = Number(process.env.LAXRAY_BENCH_ITERS ?? 12);
  const size = Number(process.env.LAXRAY_BENCH_SIZE ?? 256);
  const batch = Number(process.env.LAXRAY_BENCH_BATCH ?? 2);
  const info = await runtimeInfo();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'laxray-bench-dist-'));
  try {
    const dataDir = path.join(tmp, 'data');
    await generateDataset({ outDir: dataDir, count: Math.max(32, iterations * batch * 2 + 8), seed: 1, recipe: { width: size, height: size } });
    const config = path.join(tmp, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        preset: 'atss-lacls',
        model: { backbone: { depth: 18, norm: 'frozen_bn' }, neck: { outChannels: 128 }, head: { featChannels: 128 } },
        data: { train: { annotations: path.join(dataDir, 'all.json'), images: dataDir }, imageScale: [size, size], workers: 1 },
        train: { batchSize: batch, epochs: 1, warmupIters: 5, checkpointEvery: 10_000 },
      }),
    );
    const cases: { name: string; device: string; processes: number; threads: number; batchPerProcess: number; backend: string | null }[] = [
      { name: '1 process × 1 thread', device: 'cpu', processes: 1, threads: 1, batchPerProcess: batch, backend: null },
      { name: '1 process × 2 threads', device: 'cpu', processes: 1, threads: 2, batchPerProcess: 2 * batch, backend: null },
      { name: '2 processes × 1 thread (Gloo)', device: 'cpu', processes: 2, threads: 1, batchPerProcess: batch, backend: 'gloo' },
    ];
    if (info.builtWithCuda && info.deviceCount >= 1) {
      cases.push({ name: '1 process, 1 GPU', device: 'cuda', processes: 1, threads: 0, batchPerProcess: batch, backend: null });
      if (info.deviceCount >= 2) cases.push({ name: `${info.deviceCount} processes, 1 GPU each (NCCL)`, device: 'cuda', processes: info.deviceCount, threads: 0, batchPerProcess: batch, backend: 'nccl' });
    }
    const results = [];
    for (const c of cases) {
      const runDir = path.join(tmp, `run-${results.length}`);
      const launch = c.processes > 1 ? ['--nproc-per-node', String(c.processes), '--master-port', String(await freePort())] : [];
      const loadBefore = os.loadavg()[0]!;
      await laxray(
        ['train', '--config', config, '--run-dir', runDir, '--device', c.device, '--batch-size', String(c.batchPerProcess), '--max-iters', String(iterations), '--no-progress', ...launch],
        { LAXRAY_NUM_THREADS: String(c.threads) },
      );
      const measured = throughput(runDir);
      results.push({ ...c, ...measured, loadAverage: [Math.round(loadBefore * 10) / 10, Math.round(os.loadavg()[0]! * 10) / 10] });
    }
    const base = results[0]!.imagesPerSecond;
    reportBenchmark('distributed-training-throughput', {
      torch: info.torchVersion,
      gpus: info.deviceCount,
      model: 'ResNet-18 ATSS+LAcls, FPN/head 128 channels',
      input: [size, size],
      iterations,
      results: results.map((r) => ({ ...r, speedupOverOneThread: Math.round((r.imagesPerSecond / base) * 100) / 100 })),
      note: info.deviceCount >= 2 ? 'NCCL measured' : 'NCCL not measured: no CUDA build or fewer than 2 GPUs here',
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
