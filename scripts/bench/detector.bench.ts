// CPU detector latency (forward + post-processing, batch 1), laxray next to
// the same network in PyTorch eager (scripts/bench/peer), same LibTorch, same
// weights, same thread count, interleaved in one run:
//   - the demo model: ATSS+LAcls, ResNet-18, FPN/head at 128 channels, 384×256;
//   - ResNet-50 at 800×1333: ATSS (delta, no LA) and ATSS+LAcls.
// Before timing, both sides detect on the same input and the detections are
// compared (count, labels, largest box and score differences).
// Options (env): LAXRAY_BENCH_REPEATS (default 5), LAXRAY_BENCH_MODELS
// (comma list of demo, r50-atss, r50-lacls; default all), LAXRAY_BENCH_PYTHON.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import path from 'node:path';
import { Detector } from '../../lib/detector.js';
import { padTo } from '../../lib/data/transforms.js';
import { runtimeInfo } from '../../lib/runtime.js';
import { demoConfig, demoModules, DEMO_SCALE } from '../../lib/cli/commands/demo.js';
import type { LaxrayConfigInput } from '../../lib/config/index.js';
import { reportBenchmark } from './machine.js';
import { elapsedMs, median, round, smoothImages } from './samples.js';
import { compareDetections, Peer, peerUnavailable, type ImageMetaInput, type PeerDetection } from './peer/client.js';

interface Case {
  key: string;
  name: string;
  config: LaxrayConfigInput;
  /** [H, W] of the (padded) input. */
  size: [number, number];
}

async function cases(): Promise<Case[]> {
  const demo = demoConfig({ dataDir: tmpdir(), epochs: 1, seed: 0 }, await demoModules());
  return [
    { key: 'demo', name: 'demo: ATSS+LAcls ResNet-18 (128 ch)', config: demo, size: [padTo(DEMO_SCALE[1]), padTo(DEMO_SCALE[0])] },
    { key: 'r50-atss', name: 'ATSS ResNet-50 (delta, no LA)', config: { preset: 'atss', model: { backbone: { depth: 50 } } }, size: [800, 1344] },
    { key: 'r50-lacls', name: 'ATSS+LAcls ResNet-50', config: { preset: 'atss-lacls', model: { backbone: { depth: 50 } } }, size: [800, 1344] },
  ];
}


/**
 * Random-init heads score every class at the prior (0.01), below the 0.05
 * threshold, so post-processing would see nothing. Three classes get a bias
 * just above it: a few thousand (anchor, class) pairs reach NMS, as with a
 * trained model.
 */
async function withScoringHead(detector: Detector, file: string): Promise<void> {
  const state = await detector.stateDict();
  const bias = state['head.atss_cls.bias']!;
  const data = Float32Array.from(bias.data as Float32Array);
  const logit = Math.log(0.06 / 0.94);
  for (const c of [0, 1, 2]) if (c < data.length) data[c] = logit;
  state['head.atss_cls.bias'] = { data, shape: bias.shape };
  const { writeSafetensors } = await import('../../lib/checkpoint/safetensors.js');
  await writeSafetensors(file, state);
  await detector.loadWeights(file);
}

function toPeerFormat(result: { box: number[]; score: number; label: number }[][]): PeerDetection[][] {
  return result.map((image) => image.map((d) => ({ box: d.box as PeerDetection['box'], score: d.score, label: d.label })));
}

export async function run(): Promise<void> {
  const repeats = Number(process.env.LAXRAY_BENCH_REPEATS ?? 5);
  const wanted = (process.env.LAXRAY_BENCH_MODELS ?? 'demo,r50-atss,r50-lacls').split(',');
  const info = await runtimeInfo();
  const unavailable = peerUnavailable();
  const dir = mkdtempSync(path.join(tmpdir(), 'laxray-bench-'));
  try {
    for (const c of (await cases()).filter((x) => wanted.includes(x.key))) {
      const detector = await Detector.create({ ...c.config, device: 'cpu' });
      const weights = path.join(dir, `${c.key}.safetensors`);
      await withScoringHead(detector, weights);
      const [height, width] = c.size;
      const input = smoothImages(1, height, width);
      const { data } = input;
      const metas: ImageMetaInput[] = [{ inputWidth: width, inputHeight: height, scaleX: 1, scaleY: 1, originalWidth: width, originalHeight: height }];
      const inputFile = path.join(dir, `${c.key}.f32`);
      writeFileSync(inputFile, Buffer.from(data.buffer));

      let peer: Peer | null = null;
      let peerInfo: { threads: number; torch: string } | null = null;
      let agreement: ReturnType<typeof compareDetections> | null = null;
      if (unavailable === null) {
        peer = Peer.start();
        peerInfo = await peer.load(detector.config.model, weights, info.intraOpThreads);
        const ours = toPeerFormat(await detector.detect(input));
        const theirs = (await peer.detect(inputFile, input.shape, metas, 1, true)).detections!;
        agreement = compareDetections(ours, theirs);
      } else {
        await detector.detect(input); // warm-up
      }
      const laxrayMs: number[] = [];
      const peerMs: number[] = [];
      const loadBefore = loadavg()[0]!;
      // Interleaved, so machine noise hits both alike.
      for (let r = 0; r < repeats; r++) {
        laxrayMs.push(await elapsedMs(() => detector.detect(input)));
        if (peer) peerMs.push(...(await peer.detect(inputFile, input.shape, metas, 1)).ms);
      }
      await peer?.close();
      const ours = median(laxrayMs);
      const theirs = peerMs.length > 0 ? median(peerMs) : null;
      reportBenchmark('detector-cpu-latency', {
        model: c.name,
        device: 'cpu',
        torch: info.torchVersion,
        threads: info.intraOpThreads,
        cpuCacheLimitBytes: info.cpuCache.limitBytes,
        input: input.shape,
        repeats,
        loadAverage1m: [round(loadBefore, 2), round(loadavg()[0]!, 2)],
        laxray: { medianMs: round(ours), samplesMs: laxrayMs.map((t) => Math.round(t)) },
        peer:
          theirs === null
            ? { skipped: unavailable }
            : { medianMs: round(theirs), samplesMs: peerMs.map((t) => Math.round(t)), torch: peerInfo!.torch, threads: peerInfo!.threads, agreement },
        ratioLaxrayToPeer: theirs === null ? null : round(ours / theirs, 3),
        note: 'detect() = upload + forward + post-processing + results to JS; the peer times forward + post-processing + results to the host inside Python',
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
