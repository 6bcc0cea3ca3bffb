// A small detector and inputs for the hardening, concurrency and soak tests:
// ResNet-18 with BatchNorm in train mode, a one-conv head of 32 channels, tiny
// images. Not a test file (ava runs test/**/*.test.ts only).
import { createHash } from 'node:crypto';
import type { Detector, InputBatch } from '../../lib/detector.js';
import type { LaxrayConfigInput } from '../../lib/config/index.js';
import type { TrainingBatch } from '../../lib/data/index.js';
import type { TensorMap } from '../../lib/checkpoint/safetensors.js';
import { lcg } from './numbers.js';
import { trainingBatchOf } from '../../scripts/bench/samples.js';

export const CLASSES = ['knife', 'gun'];

type Norm = 'bn' | 'gn' | 'frozen_bn';

/**
 * The smallest real ATSS network: ResNet-18 (its norm layers as `norm` says,
 * else the preset's), an FPN and a head of `width` channels (default 32) with
 * one conv per tower; `head` adds head settings (la, regression, ...).
 */
export function thinR18(options: { width?: number; norm?: Norm; head?: Record<string, unknown> } = {}) {
  const width = options.width ?? 32;
  return {
    backbone: { depth: 18 as const, ...(options.norm !== undefined ? { norm: options.norm } : {}) },
    neck: { outChannels: width },
    head: { featChannels: width, stackedConvs: 1, ...options.head },
  };
}

/** R-18 (norm 'bn': the BN running statistics change in training), 32-channel FPN and head, scores down to 0 so detect() always returns boxes. */
export function smallConfig(overrides: { seed?: number; norm?: Norm } = {}): LaxrayConfigInput {
  return {
    classes: CLASSES,
    model: {
      ...thinR18({ norm: overrides.norm ?? 'bn' }),
      test: { scoreThreshold: 0, maxPerImage: 20 },
    },
    train: { seed: overrides.seed ?? 7 },
    data: { workers: 0 },
  };
}

/** A [n, 3, h, w] batch of values in [−1, 1) from a seeded linear congruential generator. */
export function randomBatch(n: number, h: number, w: number, seed = 1): InputBatch & { data: Float32Array; shape: number[] } {
  const next = lcg(seed);
  const data = Float32Array.from({ length: n * 3 * h * w }, () => next() * 2 - 1);
  return { data, shape: [n, 3, h, w] };
}

/** A training batch of `n` random images of size × size with two boxes each (classes 0 and 1). */
export function trainingBatch(n: number, size: number, seed = 1): TrainingBatch & { data: Float32Array } {
  return trainingBatchOf(randomBatch(n, size, size, seed).data, n, size, size);
}

/** Every parameter, buffer and momentum buffer as raw bytes, by name ('optimizer:' prefix for momentum). */
export async function modelBytes(detector: Detector): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const add = (prefix: string, tensors: TensorMap) => {
    for (const [name, { data }] of Object.entries(tensors)) out.set(prefix + name, Buffer.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))); // a copy
  };
  add('', await detector.stateDict());
  add('optimizer:', await detector.optimizerState());
  return out;
}

/** Names whose bytes differ (or that only one side has). */
export function changedEntries(before: Map<string, Buffer>, after: Map<string, Buffer>): string[] {
  const names = new Set([...before.keys(), ...after.keys()]);
  return [...names].filter((n) => !before.get(n)?.equals(after.get(n) ?? Buffer.alloc(0)) || !after.has(n)).sort();
}

/** A digest of any result: typed arrays by their bytes, so equal digests mean bit-identical results. */
export function digest(value: unknown): string {
  const hash = createHash('sha256');
  const visit = (v: unknown): void => {
    if (ArrayBuffer.isView(v)) {
      hash.update(`${v.constructor.name}:`);
      hash.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    } else if (Array.isArray(v)) {
      hash.update('[');
      v.forEach(visit);
      hash.update(']');
    } else if (v !== null && typeof v === 'object') {
      for (const key of Object.keys(v).sort()) {
        hash.update(`${key}=`);
        visit((v as Record<string, unknown>)[key]);
      }
    } else {
      hash.update(`${typeof v}:${Object.is(v, -0) ? '-0' : String(v)};`);
    }
  };
  visit(value);
  return hash.digest('hex');
}
