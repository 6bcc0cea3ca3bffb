// Where this process sits in a data-parallel job: the torchrun environment
// (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT),
// which `laxray train --nproc-per-node`, torchrun, SLURM or Kubernetes job
// launchers set, or the same settings given to the Trainer / CLI directly.
// Explicit options win over the environment.
import { LaxrayError } from '../../errors.js';

export type DistributedBackend = 'gloo' | 'nccl';

/** What a caller may set; anything left out comes from the environment. */
export interface DistributedOptions {
  /** Global rank of this process, 0..worldSize−1 (RANK). */
  rank?: number;
  /** Processes in the job (WORLD_SIZE). */
  worldSize?: number;
  /** Rank on this machine; picks the GPU cuda:localRank (LOCAL_RANK; default: rank). */
  localRank?: number;
  /** Processes on this machine (LOCAL_WORLD_SIZE; default: worldSize). */
  localWorldSize?: number;
  /** Host of rank 0, which serves the rendezvous store (MASTER_ADDR; default 127.0.0.1). */
  masterAddr?: string;
  /** Its TCP port (MASTER_PORT; default 29500). */
  masterPort?: number;
  /** 'gloo' (CPU) or 'nccl' (CUDA); default: by device (LAXRAY_DIST_BACKEND). */
  backend?: DistributedBackend;
  /** Rendezvous and collective timeout: a rank that does not arrive in time fails the job (LAXRAY_DIST_TIMEOUT_MS; default 60 000). */
  timeoutMs?: number;
}

export interface DistributedSettings {
  rank: number;
  worldSize: number;
  localRank: number;
  localWorldSize: number;
  masterAddr: string;
  masterPort: number;
  backend: DistributedBackend;
  timeoutMs: number;
}

export const DEFAULT_MASTER_ADDR = '127.0.0.1';
export const DEFAULT_MASTER_PORT = 29500;
export const DEFAULT_TIMEOUT_MS = 60_000;

/** The torchrun variables a launcher sets for each worker. */
export const TORCHRUN_ENV = ['RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'] as const;

type Env = Record<string, string | undefined>;

function integerFrom(value: number | string | undefined, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = typeof value === 'number' ? value : /^\s*-?\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new LaxrayError('INVALID_ARGUMENT', `${name} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `in ${min}..${max}`}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** True when the environment describes a job of more than one process. */
export function isDistributedEnv(env: Env = process.env): boolean {
  return env.WORLD_SIZE !== undefined && env.WORLD_SIZE !== '' && env.WORLD_SIZE !== '1';
}

/**
 * The settings of this process: `options` over the torchrun environment.
 * Returns null for a single process (worldSize 1 or no WORLD_SIZE at all).
 * `device` ('cpu', 'cuda', 'cuda:<i>') picks the default backend. Throws
 * INVALID_ARGUMENT naming the setting (and where it came from) when invalid.
 */
export function resolveDistributed(options: DistributedOptions = {}, device = 'cpu', env: Env = process.env): DistributedSettings | null {
  const from = (option: keyof DistributedOptions, variable: string) => (options[option] !== undefined ? `distributed.${option}` : variable);
  const worldSize = integerFrom(options.worldSize ?? env.WORLD_SIZE, from('worldSize', 'WORLD_SIZE'), 1);
  if (worldSize === undefined || worldSize === 1) {
    if (options.rank !== undefined && options.rank !== 0) {
      throw new LaxrayError('INVALID_ARGUMENT', `distributed.rank is ${options.rank} but no world size was given: set distributed.worldSize (or WORLD_SIZE)`);
    }
    return null;
  }
  const rankValue = options.rank ?? env.RANK;
  if (rankValue === undefined || rankValue === '') {
    throw new LaxrayError('INVALID_ARGUMENT', `WORLD_SIZE is ${worldSize} but RANK is not set: give every process its rank 0..${worldSize - 1} (RANK or distributed.rank)`);
  }
  const rank = integerFrom(rankValue, from('rank', 'RANK'), 0)!;
  if (rank >= worldSize) {
    throw new LaxrayError('INVALID_ARGUMENT', `${from('rank', 'RANK')} ${rank} is out of range for WORLD_SIZE ${worldSize}: ranks are 0..${worldSize - 1}`);
  }
  const localWorldSize = integerFrom(options.localWorldSize ?? env.LOCAL_WORLD_SIZE, from('localWorldSize', 'LOCAL_WORLD_SIZE'), 1) ?? worldSize;
  const localRank = integerFrom(options.localRank ?? env.LOCAL_RANK, from('localRank', 'LOCAL_RANK'), 0) ?? rank;
  if (localRank >= localWorldSize) {
    throw new LaxrayError('INVALID_ARGUMENT', `${from('localRank', 'LOCAL_RANK')} ${localRank} is out of range for LOCAL_WORLD_SIZE ${localWorldSize}: local ranks are 0..${localWorldSize - 1}`);
  }
  const masterAddr = (options.masterAddr ?? env.MASTER_ADDR ?? DEFAULT_MASTER_ADDR).trim();
  if (masterAddr === '') throw new LaxrayError('INVALID_ARGUMENT', `${from('masterAddr', 'MASTER_ADDR')} is empty: give the host name or address of rank 0`);
  const masterPort = integerFrom(options.masterPort ?? env.MASTER_PORT, from('masterPort', 'MASTER_PORT'), 1, 65535) ?? DEFAULT_MASTER_PORT;
  const timeoutMs = integerFrom(options.timeoutMs ?? env.LAXRAY_DIST_TIMEOUT_MS, from('timeoutMs', 'LAXRAY_DIST_TIMEOUT_MS'), 1) ?? DEFAULT_TIMEOUT_MS;
  const cuda = device.startsWith('cuda');
  const backendValue = options.backend ?? (env.LAXRAY_DIST_BACKEND || undefined) ?? (cuda ? 'nccl' : 'gloo');
  if (backendValue !== 'gloo' && backendValue !== 'nccl') {
    throw new LaxrayError('INVALID_ARGUMENT', `${from('backend', 'LAXRAY_DIST_BACKEND')} must be 'gloo' or 'nccl', got ${JSON.stringify(backendValue)}`);
  }
  if (backendValue === 'gloo' && cuda) {
    throw new LaxrayError('INVALID_ARGUMENT', `${from('backend', 'LAXRAY_DIST_BACKEND')} 'gloo' reduces CPU tensors but this run trains on ${device}: use backend 'nccl' for CUDA, or device 'cpu' with Gloo`);
  }
  if (backendValue === 'nccl' && !cuda) {
    throw new LaxrayError('INVALID_ARGUMENT', `${from('backend', 'LAXRAY_DIST_BACKEND')} 'nccl' reduces CUDA tensors but this run trains on ${device}: use backend 'gloo' on the CPU, or --device cuda`);
  }
  return { rank, worldSize, localRank, localWorldSize, masterAddr, masterPort, backend: backendValue, timeoutMs };
}

/** This process's device in a job: one GPU per local rank (cuda:LOCAL_RANK) for CUDA runs, else the CPU. */
export function workerDevice(device: string, settings: DistributedSettings): string {
  return device.startsWith('cuda') ? `cuda:${settings.localRank}` : 'cpu';
}
