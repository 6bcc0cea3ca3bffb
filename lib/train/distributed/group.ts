// The process group of a data-parallel job, on PyTorch's c10d (the addon's
// native/distributed/process_group.*): rendezvous through a TCPStore served
// by rank 0, collectives over Gloo (CPU) or NCCL (CUDA). Every method is a
// collective unless it says otherwise: all ranks call it, in the same order.
// Failures are LaxrayError DISTRIBUTED_ERROR naming the rank that stopped.
import { LaxrayError } from '../../errors.js';
import { native, type NativeProcessGroup } from '../../native.js';
import { runtimeInfo } from '../../runtime.js';
import type { DistributedSettings } from './settings.js';

export class ProcessGroup {
  private closed = false;

  private constructor(
    /** @internal */ readonly handle: NativeProcessGroup,
    readonly settings: DistributedSettings,
    /** This process's device (cpu, or cuda:LOCAL_RANK). */
    readonly device: string,
  ) {}

  /**
   * Joins the job: resolves once every rank has joined (within
   * settings.timeoutMs), or rejects saying what is wrong (port in use, rank 0
   * unreachable, ranks missing, no GPU for this local rank).
   */
  static async create(settings: DistributedSettings, device: string): Promise<ProcessGroup> {
    if (device.startsWith('cuda')) await checkGpuFor(settings, device);
    const handle = await distributedCall(() =>
      native.createProcessGroup({
        rank: settings.rank,
        worldSize: settings.worldSize,
        masterAddr: settings.masterAddr,
        masterPort: settings.masterPort,
        backend: settings.backend,
        timeoutMs: settings.timeoutMs,
        device,
      }),
    );
    return new ProcessGroup(handle, settings, device);
  }

  get rank(): number {
    return this.settings.rank;
  }

  get worldSize(): number {
    return this.settings.worldSize;
  }

  /** Element-wise sums over the ranks. */
  async sumOverRanks(values: readonly number[]): Promise<number[]> {
    return Array.from(await distributedCall(() => this.handle.sumOverRanks(Float64Array.from(values))));
  }

  /** True on every rank when `flag` is true on any (e.g. a stop request seen by one process). */
  async anyRank(flag: boolean): Promise<boolean> {
    const [count] = await this.sumOverRanks([flag ? 1 : 0]);
    return count! > 0;
  }

  /** Rank 0's value on every rank (JSON). Rank 0 may send {error} to make every rank fail with its message. */
  async broadcastJson<T>(value: T | undefined): Promise<T> {
    const bytes = this.rank === 0 ? new TextEncoder().encode(JSON.stringify({ value })) : new Uint8Array(0);
    const received = await distributedCall(() => this.handle.broadcastBytes(bytes));
    return (JSON.parse(new TextDecoder().decode(received)) as { value: T }).value;
  }

  /**
   * Runs `work` on rank 0 alone and returns its result (JSON) on every rank.
   * When it fails on rank 0, every rank throws its error ("rank 0: ...").
   */
  async decide<T>(work: () => T | Promise<T>): Promise<T> {
    type Outcome = { ok: T } | { error: { code: LaxrayError['code']; message: string } };
    if (this.rank === 0) {
      let result: T;
      try {
        result = await work();
      } catch (err) {
        const e = err instanceof LaxrayError ? err : new LaxrayError('IO_ERROR', err instanceof Error ? err.message : String(err));
        await this.broadcastJson<Outcome>({ error: { code: e.code, message: e.message } });
        throw err;
      }
      await this.broadcastJson<Outcome>({ ok: result });
      return result;
    }
    const outcome = await this.broadcastJson<Outcome>(undefined);
    if ('error' in outcome) throw new LaxrayError(outcome.error.code, `rank 0: ${outcome.error.message}`);
    return outcome.ok;
  }

  /** Every rank's value (JSON), by rank. */
  async allGatherJson<T>(value: T): Promise<T[]> {
    const all = await distributedCall(() => this.handle.allGatherBytes(new TextEncoder().encode(JSON.stringify(value))));
    return all.map((bytes) => JSON.parse(new TextDecoder().decode(bytes)) as T);
  }

  /** Resolves once every rank has called it. */
  async barrier(what: string): Promise<void> {
    await distributedCall(() => this.handle.barrier(what));
  }

  /** Not a collective: leaves this rank's failure where the other ranks' errors will quote it (best effort). */
  async reportFailure(message: string): Promise<void> {
    if (this.closed) return;
    try {
      await this.handle.reportFailure(message);
    } catch {
      // the store may be gone with rank 0
    }
  }

  /** Not a collective: leaves the job (heartbeat, backend, and on rank 0 the store). Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await distributedCall(() => this.handle.close());
  }
}

/** A CUDA rank needs its own GPU: cuda:LOCAL_RANK must exist on this machine. */
async function checkGpuFor(settings: DistributedSettings, device: string): Promise<void> {
  const info = await runtimeInfo();
  const index = Number(device.split(':')[1] ?? settings.localRank);
  if (!info.builtWithCuda || index >= info.deviceCount) {
    const have = info.builtWithCuda ? `LibTorch sees ${info.deviceCount} GPU(s) here` : 'this laxray build has no CUDA';
    throw new LaxrayError(
      'INVALID_ARGUMENT',
      `LOCAL_RANK ${settings.localRank} trains on ${device}, but ${have}: start at most one process per GPU (--nproc-per-node ${Math.max(1, info.deviceCount)}), or train on the CPU with backend 'gloo'`,
    );
  }
}

async function distributedCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LaxrayError && err.code !== 'NATIVE_ERROR') throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw new LaxrayError('DISTRIBUTED_ERROR', message, { cause: err });
  }
}

/** A collective that failed inside another native call (e.g. a training step): DISTRIBUTED_ERROR; anything else unchanged. */
export function asDistributedError(err: unknown): unknown {
  if (!(err instanceof LaxrayError) || err.code !== 'NATIVE_ERROR') return err;
  // The process group's own failures read "<what> failed on rank R of W: ..." (native/distributed/process_group.cc).
  if (!/failed on rank \d+ of \d+|the process group was closed|the ranks hold different gradients|rank\(s\) hold a different model/.test(err.message)) return err;
  return new LaxrayError('DISTRIBUTED_ERROR', err.message, { cause: err });
}
