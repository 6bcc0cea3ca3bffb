// What a torch.save pickle may name, and what naming it means. Three lists:
//  - tensor globals: the rebuild functions, storage classes and dtypes a state
//    dict is made of, and collections.OrderedDict. Their effect is written
//    here in TypeScript (a TensorRef, a PyDict); nothing runs Python.
//  - inert metadata classes that real checkpoints carry beside the weights
//    (numpy scalars in mmcv's hook messages, argparse.Namespace of training
//    scripts, mmengine's HistoryBuffer, ...): they become Opaque placeholders
//    that are never called and may not stand where a tensor is needed.
//  - everything else (os.system, builtins.eval, subprocess.Popen, a model
//    class pickled by torch.save(model), ...) is refused with an error naming it.
import { LaxrayError } from '../../errors.js';
import { DTYPE_GLOBALS, STORAGE_CLASSES, type TorchDtype } from './dtypes.js';
import { StorageRef, TensorRef } from './tensor.js';
import { PyDict, PyTuple, type UnpicklerPolicy } from './unpickler.js';

type TensorGlobalKind = 'ordered_dict' | 'rebuild_tensor' | 'rebuild_tensor_v2' | 'rebuild_tensor_v3' | 'rebuild_parameter' | 'rebuild_from_type' | 'size' | 'tensor_type';

/** A global the policy allows; `kind` says what calling it does. */
export class TorchGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly kind: TensorGlobalKind | 'storage' | 'dtype' | 'opaque',
    readonly dtype: TorchDtype | null = null,
  ) {}

  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An object of an inert metadata class, kept as data and never used. */
export class Opaque {
  state: unknown = undefined;
  constructor(
    readonly type: string,
    readonly args: readonly unknown[],
  ) {}
}

const TENSOR_GLOBALS: Readonly<Record<string, TensorGlobalKind>> = {
  'collections.OrderedDict': 'ordered_dict',
  'torch._utils._rebuild_tensor': 'rebuild_tensor',
  'torch._utils._rebuild_tensor_v2': 'rebuild_tensor_v2',
  'torch._utils._rebuild_tensor_v3': 'rebuild_tensor_v3',
  'torch._utils._rebuild_parameter': 'rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state': 'rebuild_parameter',
  'torch._tensor._rebuild_from_type_v2': 'rebuild_from_type',
  'torch.Size': 'size',
  'torch.Tensor': 'tensor_type',
  'torch.nn.parameter.Parameter': 'tensor_type',
};

/** Data-only classes and functions found in the metadata of real checkpoints (never called). */
const INERT_METADATA = new Set([
  'numpy.core.multiarray.scalar',
  'numpy.core.multiarray._reconstruct',
  'numpy._core.multiarray.scalar',
  'numpy._core.multiarray._reconstruct',
  'numpy.ndarray',
  'numpy.dtype',
  '_codecs.encode', // how protocol-2 pickles spell numpy's raw bytes
  'argparse.Namespace',
  'mmengine.logging.history_buffer.HistoryBuffer',
  'builtins.set',
  'builtins.frozenset',
  'builtins.slice',
  'builtins.complex',
  'builtins.bytearray',
  'pathlib.PosixPath',
  'pathlib.WindowsPath',
  'pathlib.PurePosixPath',
  'datetime.datetime',
  'datetime.date',
  'datetime.timedelta',
  'torch.device',
  'torch.torch_version.TorchVersion',
]);

/** The policy for one checkpoint; `persistentLoad` turns the container's persistent ids into StorageRefs. */
export class TorchPicklePolicy implements UnpicklerPolicy {
  constructor(
    private readonly what: string,
    private readonly storageFor: (pid: unknown, fail: (problem: string) => never) => StorageRef,
  ) {}

  private fail(problem: string): never {
    throw new LaxrayError('CHECKPOINT_ERROR', `${this.what}: ${problem}`);
  }

  findGlobal(module: string, name: string): unknown {
    const qualified = `${module}.${name}`;
    const kind = TENSOR_GLOBALS[qualified];
    if (kind !== undefined) return new TorchGlobal(module, name, kind);
    if ((module === 'torch' || module === 'torch.storage') && STORAGE_CLASSES[name] !== undefined) return new TorchGlobal(module, name, 'storage', STORAGE_CLASSES[name]);
    if (module === 'torch' && DTYPE_GLOBALS[name] !== undefined) return new TorchGlobal(module, name, 'dtype', DTYPE_GLOBALS[name]);
    if (INERT_METADATA.has(qualified)) return new TorchGlobal(module, name, 'opaque');
    return this.refuse(module, name);
  }

  private refuse(module: string, name: string): never {
    const qualified = `${module}.${name}`;
    if (module === 'torch' && /Storage$/.test(name)) {
      this.fail(`tensors of storage type ${qualified} are not supported (laxray reads float64/32/16, bfloat16, int64/32/16/8, uint8 and bool)`);
    }
    if (module === 'torch._utils' && name.startsWith('_rebuild')) {
      this.fail(`${qualified} (a quantized, sparse or other special tensor) is not supported; dequantize / densify it in PyTorch and save the state dict again`);
    }
    const pickledModel = /^(torch\.nn\.modules|torchvision\.models|mmdet\.models|mmcv\.cnn)/.test(module);
    this.fail(
      `refused: the pickle references ${qualified}, which is not part of a tensor state dict. laxray never runs code from a checkpoint. ` +
        (pickledModel
          ? 'The file holds a whole pickled model (torch.save(model)); save model.state_dict() in PyTorch and load that file.'
          : 'If you trust the file, re-save just its tensors in PyTorch (torch.save(checkpoint["state_dict"], "clean.pth")) and load that.'),
    );
  }

  call(callable: unknown, args: readonly unknown[], kwargs: PyDict | null): unknown {
    if (callable instanceof Opaque) return new Opaque(callable.type, args);
    if (!(callable instanceof TorchGlobal)) this.fail(`malformed pickle: it calls a ${describe(callable)}, not a class or function`);
    const name = callable.qualifiedName;
    switch (callable.kind) {
      case 'opaque':
        return new Opaque(name, kwargs ? [...args, kwargs] : args);
      case 'ordered_dict':
        return this.orderedDict(args);
      case 'rebuild_tensor': // (storage, offset, size, stride)
      case 'rebuild_tensor_v2': // (..., requires_grad, backward_hooks[, metadata])
        return this.tensor(name, args, null);
      case 'rebuild_tensor_v3': // (..., requires_grad, backward_hooks, dtype[, metadata])
        return this.tensor(name, args, args[6]);
      case 'rebuild_parameter': // (data, requires_grad, backward_hooks[, state])
        if (!(args[0] instanceof TensorRef)) this.fail(`${name} wraps a ${describe(args[0])}, not a tensor`);
        return args[0];
      case 'rebuild_from_type': { // (func, new_type, args, state): a Tensor/Parameter rebuilt by an allowed function
        const [func, type, inner] = args;
        if (!(func instanceof TorchGlobal) || (!func.kind.startsWith('rebuild_tensor') && func.kind !== 'rebuild_parameter')) this.fail(`${name} rebuilds with ${describe(func)}, which is not allowed`);
        if (!(type instanceof TorchGlobal) || type.kind !== 'tensor_type') this.fail(`${name} makes a ${describe(type)}, not a tensor or parameter`);
        if (!(inner instanceof PyTuple)) this.fail(`malformed pickle: ${name} without an argument tuple`);
        return this.call(func, inner.items, null);
      }
      case 'size': {
        const [dims] = args;
        if (!(dims instanceof PyTuple)) this.fail(`malformed pickle: torch.Size of a ${describe(dims)}`);
        return dims;
      }
      default:
        return this.fail(`malformed pickle: it calls ${name}, which cannot be called`);
    }
  }

  build(object: unknown, state: unknown): unknown {
    if (object instanceof PyDict) {
      object.attributes = state; // e.g. a state dict's _metadata (module versions); not needed
      return object;
    }
    if (object instanceof Opaque) {
      object.state = state;
      return object;
    }
    if (object instanceof TensorRef) return object; // tensor subclass attributes; the values are all we use
    return this.fail(`malformed pickle: it sets the state of a ${describe(object)}`);
  }

  persistentLoad(pid: unknown): unknown {
    return this.storageFor(pid, (problem) => this.fail(problem));
  }

  private orderedDict(args: readonly unknown[]): PyDict {
    const dict = new PyDict();
    const [items] = args;
    if (items === undefined) return dict;
    if (!Array.isArray(items)) this.fail(`malformed pickle: OrderedDict of a ${describe(items)}`);
    for (const pair of items) {
      if (!(pair instanceof PyTuple) || pair.items.length !== 2) this.fail('malformed pickle: OrderedDict items are not (key, value) pairs');
      dict.map.set(pair.items[0], pair.items[1]);
    }
    return dict;
  }

  private tensor(name: string, args: readonly unknown[], dtypeGlobal: unknown): TensorRef {
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof StorageRef)) this.fail(`${name} needs a storage, got a ${describe(storage)}`);
    if (!(size instanceof PyTuple) || !(stride instanceof PyTuple)) this.fail(`malformed pickle: ${name} without size and stride tuples`);
    let dtype = storage.dtype;
    if (dtypeGlobal !== null) {
      if (!(dtypeGlobal instanceof TorchGlobal) || dtypeGlobal.kind !== 'dtype' || dtypeGlobal.dtype === null) this.fail(`${name} names an unsupported dtype ${describe(dtypeGlobal)}`);
      dtype = dtypeGlobal.dtype;
    }
    if (dtype !== storage.dtype && storage.dtype !== 'uint8') this.fail(`${name}: a ${dtype} tensor on a ${storage.dtype} storage`);
    const ints = (t: PyTuple) => t.items.map((v) => (typeof v === 'number' ? v : NaN));
    return new TensorRef(storage, dtype, typeof offset === 'number' ? offset : NaN, ints(size), ints(stride));
  }
}

/** A short description of a pickled value for error messages. */
export function describe(value: unknown): string {
  if (value instanceof TorchGlobal) return value.qualifiedName;
  if (value instanceof Opaque) return `${value.type} object`;
  if (value instanceof TensorRef) return `tensor [${value.shape.join(', ')}]`;
  if (value instanceof PyDict) return `dict of ${value.map.size} items`;
  if (value instanceof PyTuple) return `tuple of ${value.items.length}`;
  if (Array.isArray(value)) return `list of ${value.length}`;
  if (value instanceof Uint8Array) return `bytes of length ${value.length}`;
  if (value === null) return 'None';
  return typeof value === 'string' ? `string '${value.slice(0, 40)}'` : `${typeof value} ${String(value)}`;
}
