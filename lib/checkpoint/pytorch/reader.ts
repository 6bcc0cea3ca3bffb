// One torch.save file, zip or legacy: its unpickled object (with TensorRefs
// where the tensors are) and the tensors' values on request. Storages are read
// one at a time, each once, however many tensors view it.
import { LaxrayError } from '../../errors.js';
import { ELEMENT_BYTES } from './dtypes.js';
import { describe, TorchGlobal, TorchPicklePolicy } from './globals.js';
import { openLegacyTorch } from './legacy_container.js';
import { checkView, formatBytes, materialise, StorageRef, type RawTensor, type TensorRef } from './tensor.js';
import { DEFAULT_PICKLE_LIMITS, PyTuple, unpickle, type PickleLimits } from './unpickler.js';
import { openTorchZip } from './zip_container.js';

export interface TorchReadLimits extends PickleLimits {
  /** Zip entries in the archive. */
  maxEntries: number;
  /** Bytes of the pickle(s). */
  maxPickleBytes: number;
  /** Bytes of one storage (and of one tensor). */
  maxStorageBytes: number;
  /** Bytes of all tensors read from one file. */
  maxTotalBytes: number;
}

export const DEFAULT_TORCH_LIMITS: TorchReadLimits = {
  ...DEFAULT_PICKLE_LIMITS,
  maxEntries: 100_000,
  maxPickleBytes: 256 * 2 ** 20,
  maxStorageBytes: 2 ** 31 - 1,
  maxTotalBytes: 16 * 2 ** 30,
};

export type TorchContainer = 'zip' | 'legacy';

export interface TorchCheckpoint {
  container: TorchContainer;
  /** The object torch.save was given, with TensorRefs for its tensors. */
  root: unknown;
  /** Contiguous little-endian values of the named tensors. */
  readTensors(refs: ReadonlyMap<string, TensorRef>): Promise<Map<string, RawTensor>>;
  close(): Promise<void>;
}

export async function openTorchCheckpoint(file: string, container: TorchContainer, limits: TorchReadLimits = DEFAULT_TORCH_LIMITS): Promise<TorchCheckpoint> {
  const what = `PyTorch checkpoint ${file}`;
  const storages = () => new StorageTable(container, limits);
  if (container === 'zip') {
    const zip = await openTorchZip(file, { maxEntries: limits.maxEntries, maxPickleBytes: limits.maxPickleBytes, maxEntryBytes: limits.maxStorageBytes }, what);
    try {
      const table = storages();
      const { value } = unpickle(zip.pickle, new TorchPicklePolicy(what, (pid, fail) => table.fromPid(pid, fail)), what, limits);
      return checkpoint('zip', value, zip.littleEndian, (key, min) => zip.readStorage(key, min), async () => zip.close(), what, limits);
    } catch (err) {
      zip.close();
      throw err;
    }
  }
  const legacy = await openLegacyTorch(
    file,
    () => {
      const table = storages();
      return { policy: new TorchPicklePolicy(what, (pid, fail) => table.fromPid(pid, fail)), storages: table.roots };
    },
    { maxPickleBytes: limits.maxPickleBytes, maxEntryBytes: limits.maxStorageBytes },
    what,
  );
  return checkpoint('legacy', legacy.root, legacy.littleEndian, (key, min) => legacy.readStorage(key, min), () => legacy.close(), what, limits);
}

function checkpoint(
  container: TorchContainer,
  root: unknown,
  littleEndian: boolean,
  readStorage: (key: string, minBytes: number) => Promise<Uint8Array>,
  close: () => Promise<void>,
  what: string,
  limits: TorchReadLimits,
): TorchCheckpoint {
  return {
    container,
    root,
    close,
    async readTensors(refs) {
      // Check every view first (cheap), then read each storage once.
      let total = 0;
      const byStorage = new Map<string, { needed: number; names: string[] }>();
      for (const [name, ref] of refs) {
        checkView(ref, `${what}: tensor '${name}'`, limits.maxStorageBytes);
        total += ref.byteLength;
        if (total > limits.maxTotalBytes) fail(what, `its tensors take more than the limit of ${formatBytes(limits.maxTotalBytes)}`);
        // The storage's entry must hold what the pickle declares for it (each view lies inside that).
        const group = byStorage.get(ref.storage.key) ?? { needed: 0, names: [] };
        group.needed = Math.max(group.needed, ref.storage.base * ELEMENT_BYTES[ref.storage.dtype] + ref.storage.byteLength);
        group.names.push(name);
        byStorage.set(ref.storage.key, group);
      }
      const out = new Map<string, RawTensor>();
      for (const [key, group] of byStorage) {
        const bytes = await readStorage(key, group.needed);
        for (const name of group.names) {
          const ref = refs.get(name)!;
          out.set(name, materialise(ref, bytes.subarray(ref.storage.base * ELEMENT_BYTES[ref.storage.dtype]), littleEndian));
        }
      }
      // Back in the caller's order.
      return new Map([...refs.keys()].map((name) => [name, out.get(name)!]));
    },
  };
}

function fail(what: string, problem: string): never {
  throw new LaxrayError('CHECKPOINT_ERROR', `${what}: ${problem}`);
}

/** Storage references by key, from the persistent ids of either container. */
class StorageTable {
  /** Root storages by key (what the legacy storage records hold). */
  readonly roots = new Map<string, StorageRef>();
  private readonly views = new Map<string, StorageRef>();

  constructor(
    private readonly container: TorchContainer,
    private readonly limits: TorchReadLimits,
  ) {}

  // zip:    ('storage', storage_type, key, location, numel)
  // legacy: ('storage', storage_type, root_key, location, numel, view_metadata | None)
  fromPid(pid: unknown, fail: (problem: string) => never): StorageRef {
    if (!(pid instanceof PyTuple) || pid.items[0] !== 'storage') {
      const kind = pid instanceof PyTuple ? describe(pid.items[0]) : describe(pid);
      return fail(pid instanceof PyTuple && pid.items[0] === 'module'
        ? 'the file holds a whole pickled model with its source code (torch.save(model)); save model.state_dict() in PyTorch and load that file'
        : `persistent id ${kind} is not a storage reference: not a tensor checkpoint`);
    }
    const [, type, key, location, numel, view] = pid.items;
    if (!(type instanceof TorchGlobal) || type.kind !== 'storage' || type.dtype === null) return fail(`storage of type ${describe(type)} is not supported`);
    if (typeof key !== 'string' || !/^[\w.-]{1,64}$/.test(key)) return fail(`storage key ${describe(key)} is not a plain name (corrupt or hostile file)`);
    if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) return fail(`storage '${key}' declares ${describe(numel)} elements`);
    const bytes = numel * ELEMENT_BYTES[type.dtype];
    if (bytes > this.limits.maxStorageBytes) {
      return fail(`storage '${key}' declares ${numel} ${type.dtype} elements (${formatBytes(bytes)}), more than the limit of ${formatBytes(this.limits.maxStorageBytes)} per storage`);
    }
    const root = this.remember(this.roots, new StorageRef(key, type.dtype, numel, String(location)), fail);
    if (this.container === 'zip' || view === null || view === undefined) return root;
    // A storage view (very old files): (view_key, element offset, element count) into the root storage.
    if (!(view instanceof PyTuple) || typeof view.items[0] !== 'string' || typeof view.items[1] !== 'number' || typeof view.items[2] !== 'number') {
      return fail(`storage '${key}' has a malformed view ${describe(view)}`);
    }
    const [viewKey, offset, size] = view.items as [string, number, number];
    if (offset < 0 || size < 0 || offset + size > numel) return fail(`storage view '${viewKey}' [${offset}, ${offset + size}) lies outside storage '${key}' of ${numel} elements`);
    return this.remember(this.views, new StorageRef(key, type.dtype, size, root.location, offset), fail, viewKey);
  }

  private remember(table: Map<string, StorageRef>, ref: StorageRef, fail: (problem: string) => never, key = ref.key): StorageRef {
    const known = table.get(key);
    if (known === undefined) {
      table.set(key, ref);
      return ref;
    }
    if (known.dtype !== ref.dtype || known.numel !== ref.numel || known.base !== ref.base) {
      fail(`storage '${key}' is declared twice with different types or sizes (${known.dtype} × ${known.numel}, ${ref.dtype} × ${ref.numel}; corrupt file)`);
    }
    return known;
  }
}
