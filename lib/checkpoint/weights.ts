// Weights files as people have them: safetensors, or PyTorch's torch.save
// (zip, or the legacy format), told apart by their first bytes, not their
// extension. Nested checkpoints are unwrapped and mmdetection's names mapped
// onto laxray's (pytorch/name_maps.ts); the result is laxray's TensorMap.
import { promises as fs } from 'node:fs';
import { LaxrayError } from '../errors.js';
import { readSafetensors, type TensorMap } from './safetensors.js';
import { LEGACY_MAGIC } from './pytorch/legacy_container.js';
import { backboneName, detectLayout, mmdetToLaxray, renameAll, type SourceLayout } from './pytorch/name_maps.js';
import { DEFAULT_TORCH_LIMITS, type TorchReadLimits } from './pytorch/reader.js';
import type { PyTorchStateDict } from './pytorch/load.js';
import { loadTorchStateDictOffThread } from './pytorch/off_thread.js';
import { toNamedTensor } from './pytorch/tensor.js';

export type { PyTorchStateDict };

export type WeightsFormat = 'safetensors' | 'pytorch-zip' | 'pytorch-legacy';

const ZIP_MAGIC = Buffer.from('PK\x03\x04', 'latin1');
// The legacy format's first pickle: PROTO 2, LONG1 of 10 bytes (the magic number).
const LEGACY_START = Buffer.concat([Buffer.from([0x80, 0x02, 0x8a, 0x0a]), bigIntLE(LEGACY_MAGIC, 10)]);

/** The format of a weights file by its content (the name only breaks the tie for unrecognisable .safetensors files). */
export async function sniffWeightsFormat(file: string): Promise<WeightsFormat> {
  let head: Buffer;
  try {
    const handle = await fs.open(file, 'r');
    try {
      head = Buffer.alloc(512);
      head = head.subarray(0, (await handle.read(head, 0, 512, 0)).bytesRead);
    } finally {
      await handle.close();
    }
  } catch (err) {
    throw new LaxrayError('CHECKPOINT_ERROR', `cannot read weights file ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (head.subarray(0, 4).equals(ZIP_MAGIC)) return 'pytorch-zip';
  if (head.subarray(0, LEGACY_START.length).equals(LEGACY_START)) return 'pytorch-legacy';
  if (head.length >= 9 && head[8] === 0x7b /* { */ && head.readBigUInt64LE(0) < 100_000_000n) return 'safetensors';
  // Unrecognised: a .safetensors file gets the safetensors parser's precise complaint (truncated header, bad JSON, ...).
  if (file.endsWith('.safetensors')) return 'safetensors';
  if (head.length < 16) throw new LaxrayError('CHECKPOINT_ERROR', `${file} is ${head.length} bytes, too short for a weights file (truncated?)`);
  if (head.subarray(257, 262).toString('latin1') === 'ustar') {
    throw new LaxrayError('CHECKPOINT_ERROR', `${file} is a tar archive: the tar-based torch.save format of PyTorch < 0.4 is not supported; load it in PyTorch and save the state dict again`);
  }
  throw new LaxrayError(
    'CHECKPOINT_ERROR',
    `${file} is not a weights file laxray reads: expected safetensors, or a PyTorch checkpoint written by torch.save (zip archive, or the legacy format)` +
      (head[0] === 0x80 ? '; it looks like a plain pickle, not torch.save output' : ''),
  );
}

/**
 * A PyTorch checkpoint's state dict with each tensor in its own dtype (names as
 * in the file, less a 'module.' prefix). Unpickling and the strided copies run
 * on a worker thread: the event loop stays free.
 */
export async function readPyTorchStateDict(file: string, limits: TorchReadLimits = DEFAULT_TORCH_LIMITS): Promise<PyTorchStateDict> {
  const format = await sniffWeightsFormat(file);
  if (format === 'safetensors') throw new LaxrayError('CHECKPOINT_ERROR', `${file} is a safetensors file, not a PyTorch checkpoint`);
  return loadTorchStateDictOffThread(file, format === 'pytorch-zip' ? 'zip' : 'legacy', limits);
}

export interface Weights {
  /** laxray's names and in-memory types. */
  tensors: TensorMap;
  format: WeightsFormat;
  /** Safetensors metadata (empty for PyTorch files). */
  metadata: Record<string, string>;
  /** The names' layout in the file. */
  layout: SourceLayout;
  notes: string[];
}

export interface ReadWeightsOptions {
  /** The file's naming; 'auto' tells mmdetection's from laxray's by the names. */
  layout?: 'auto' | SourceLayout;
}

/** Any weights file as a laxray state dict (for Detector.loadWeights). */
export async function readWeights(file: string, options: ReadWeightsOptions = {}): Promise<Weights> {
  const raw = await readAnyWeights(file);
  const layout = !options.layout || options.layout === 'auto' ? detectLayout(Object.keys(raw.tensors)) : options.layout;
  if (layout === 'laxray') return { ...raw, layout };
  const { renamed, dropped } = renameAll(Object.entries(raw.tensors), mmdetToLaxray);
  const notes = [...raw.notes, "mapped mmdetection's names onto laxray's"];
  if (dropped.length > 0) notes.push(`dropped ${dropped.join(', ')} (laxray computes it)`);
  return { ...raw, tensors: Object.fromEntries(renamed), layout, notes };
}

/** A ResNet's weights with torchvision's names (for Detector.loadBackboneWeights): a torchvision state dict, or the backbone.* part of a detector checkpoint. */
export async function readBackboneWeights(file: string): Promise<Weights> {
  const raw = await readAnyWeights(file);
  const names = Object.keys(raw.tensors);
  const { renamed, dropped } = renameAll(Object.entries(raw.tensors), (name) => backboneName(name, names));
  const notes = dropped.length > 0 ? [...raw.notes, `took the backbone.* entries, left out ${dropped.length} others`] : raw.notes;
  return { ...raw, tensors: Object.fromEntries(renamed), layout: 'laxray', notes };
}

async function readAnyWeights(file: string): Promise<Omit<Weights, 'layout'>> {
  const format = await sniffWeightsFormat(file);
  if (format === 'safetensors') {
    const { tensors, metadata } = await readSafetensors(file);
    return { tensors, format, metadata, notes: [] };
  }
  const stateDict = await readPyTorchStateDict(file);
  const tensors: TensorMap = {};
  for (const [name, raw] of stateDict.tensors) tensors[name] = toNamedTensor(raw, `PyTorch checkpoint ${file}: tensor '${name}'`);
  return { tensors, format, metadata: {}, notes: stateDict.notes };
}

function bigIntLE(value: bigint, bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) out[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return out;
}
