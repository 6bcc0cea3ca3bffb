// What laxray runs on: LibTorch version, CUDA devices, threads, addon file.
import { addonFile, native, type NativeRuntimeInfo } from './native.js';
import { LaxrayError } from './errors.js';
import { resolveDeviceName, type DeviceName } from './device.js';

export interface RuntimeInfo extends NativeRuntimeInfo {
  /** The addon binary in use (build/Release or prebuilds/). */
  addonFile: string;
  /** The device used when none is given: LAXRAY_DEVICE, else cpu. */
  defaultDevice: DeviceName;
}

export async function runtimeInfo(): Promise<RuntimeInfo> {
  const info = await native.runtimeInfo();
  return { ...info, addonFile: addonFile(), defaultDevice: resolveDeviceName() };
}

/**
 * Sets LibTorch's intra-op threads for the whole process (0 = all cores, the
 * default at load; LAXRAY_NUM_THREADS overrides). At most 4 per core: more
 * only adds contention, and each thread calling into LibTorch gets a team.
 */
export function setThreads(threads: number): void {
  if (!Number.isInteger(threads) || threads < 0) {
    throw new LaxrayError('INVALID_ARGUMENT', `setThreads: threads must be an integer >= 0 (0 = all cores), got ${threads}`);
  }
  try {
    native.setIntraOpThreads(threads);
  } catch (err) {
    throw new LaxrayError('INVALID_ARGUMENT', `setThreads: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Bounds the CPU block cache: freed tensor memory blocks of 256 KiB and more
 * are kept (up to `bytes`) and reused by later calls instead of being given
 * back to the system and faulted in again — a ResNet-50 detection at
 * 800×1344 runs several times faster with it. Default at load: a quarter of
 * the memory the process may use (LAXRAY_CPU_CACHE_MB overrides); 0 turns it
 * off. Lowering the limit frees cached blocks at once.
 */
export function setCpuCacheLimit(bytes: number): void {
  if (!Number.isSafeInteger(bytes) || bytes < 0) {
    throw new LaxrayError('INVALID_ARGUMENT', `setCpuCacheLimit: bytes must be an integer >= 0 (0 turns the cache off), got ${bytes}`);
  }
  native.setCpuCacheLimit(bytes);
}

/** Gives every cached CPU block back to the system (the limit stays). */
export function emptyCpuCache(): void {
  native.emptyCpuCache();
}
