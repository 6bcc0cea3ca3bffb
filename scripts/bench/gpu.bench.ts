// The GPU suite (800×1333, ResNet-50): inference img/s at batch 1 / 8 / 16 and
// training img/s at batch 4 / 16, ATSS and ATSS+LAcls, fp32 / tf32 / bf16,
// memory reserved on the device, the data path's wait per step at batch 16,
// and the same network's inference in PyTorch eager (scripts/bench/peer) in
// the same run. Each laxray case runs in its own process (gpu/case.ts) so its
// memory figure is its own. Without CUDA it prints one line saying so.
// Options (env): LAXRAY_BENCH_GPU_QUICK=1 (fp32 and bf16 only, fewer iterations).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Detector } from '../../lib/detector.js';
import { runtimeInfo } from '../../lib/runtime.js';
import { reportBenchmark } from './machine.js';
import { Peer, peerUnavailable } from './peer/client.js';
import type { GpuCase } from './gpu/case.js';

const SIZE: [number, number] = [800, 1344];
const here = path.dirname(fileURLToPath(import.meta.url));

function cases(quick: boolean): GpuCase[] {
  const precisions = quick ? (['fp32', 'bf16'] as const) : (['fp32', 'tf32', 'bf16'] as const);
  const out: GpuCase[] = [];
  for (const preset of ['atss', 'atss-lacls'] as const) {
    for (const precision of precisions) {
      for (const batch of [1, 8, 16]) out.push({ mode: 'infer', preset, precision, batch, iterations: quick ? 5 : batch === 1 ? 30 : 10, size: SIZE });
      for (const batch of [4, 16]) out.push({ mode: 'train', preset, precision, batch, iterations: quick ? 3 : 8, size: SIZE });
    }
  }
  out.push({ mode: 'train-loader', preset: 'atss-lacls', precision: 'bf16', batch: 16, iterations: 6, size: SIZE });
  return out;
}

function runLaxrayCase(c: GpuCase): Record<string, unknown> {
  const child = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, 'gpu', 'case.ts'), JSON.stringify(c)], {
    encoding: 'utf8',
    timeout: 10 * 60_000,
    maxBuffer: 16 << 20,
  });
  const line = child.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return { case: c, error: `case process failed (status ${child.status}, signal ${child.signal}): ${child.stderr.trim().split('\n').slice(-5).join(' | ')}` };
  }
}

/** The peer's inference on the same weights, at each batch size and precision. */
async function peerInference(precisions: readonly string[]): Promise<Record<string, unknown>[]> {
  const why = peerUnavailable();
  if (why !== null) return [{ skipped: why }];
  const dir = mkdtempSync(path.join(tmpdir(), 'laxray-gpu-peer-'));
  const rows: Record<string, unknown>[] = [];
  try {
    for (const preset of ['atss', 'atss-lacls'] as const) {
      const detector = await Detector.create({ preset, device: 'cpu', model: { backbone: { depth: 50 } } });
      const weights = path.join(dir, `${preset}.safetensors`);
      await detector.saveWeights(weights);
      for (const precision of precisions) {
        const peer = Peer.start();
        try {
          await peer.load(detector.config.model, weights, 1, 'cuda', precision);
          for (const batch of [1, 8, 16]) {
            const [height, width] = SIZE;
            const input = path.join(dir, `input-${batch}.f32`);
            const data = new Float32Array(batch * 3 * height * width).map((_, i) => Math.sin(i * 0.0007));
            writeFileSync(input, Buffer.from(data.buffer));
            const metas = Array.from({ length: batch }, () => ({ inputWidth: width, inputHeight: height, scaleX: 1, scaleY: 1, originalWidth: width, originalHeight: height }));
            await peer.detect(input, [batch, 3, height, width], metas, 3); // warm-up
            const { ms, memory } = await peer.detect(input, [batch, 3, height, width], metas, batch === 1 ? 30 : 10);
            const total = ms.reduce((a, b) => a + b, 0);
            rows.push({ preset, precision, batch, imagesPerSecond: Math.round(((batch * ms.length) / (total / 1000)) * 10) / 10, memory });
          }
        } finally {
          await peer.close();
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

export async function run(): Promise<void> {
  const info = await runtimeInfo();
  if (!info.cudaAvailable) {
    reportBenchmark('gpu', {
      skipped: info.builtWithCuda ? 'no CUDA device is visible' : `this laxray build links a CPU-only LibTorch (${info.torchVersion}); the GPU suite needs a CUDA build (README: Building for CUDA)`,
    });
    return;
  }
  const quick = process.env.LAXRAY_BENCH_GPU_QUICK === '1';
  const device = info.devices[0]?.name ?? 'cuda:0';
  for (const c of cases(quick)) reportBenchmark('gpu-laxray', { device, torch: info.torchVersion, ...runLaxrayCase(c) });
  for (const row of await peerInference(quick ? ['fp32', 'bf16'] : ['fp32', 'tf32', 'bf16'])) reportBenchmark('gpu-peer', { device, ...row });
}
