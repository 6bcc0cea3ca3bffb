// Tensors held by the addon (on CPU or CUDA), with transfer to and from typed
// arrays. Every operation that touches tensor data returns a Promise: the work
// runs on a worker thread, never on the event loop.
import { LaxrayError } from './errors.js';
import { asLaxrayError, native, type DType, type HostArray, type NativeTensorHandle, type TensorData } from './native.js';
import { resolveDeviceName } from './device.js';

export type { DType, HostArray, TensorData };

export class Tensor {
  private constructor(private readonly handle: NativeTensorHandle) {}

  /** Copies `data` (row-major, `shape`) into a new tensor on `device` (default: LAXRAY_DEVICE or cpu). */
  static async from(data: HostArray, shape: readonly number[], options: { device?: string } = {}): Promise<Tensor> {
    if (!(data instanceof Float32Array || data instanceof Uint8Array || data instanceof Int32Array)) {
      throw new LaxrayError('INVALID_ARGUMENT', 'Tensor.from: data must be a Float32Array, Uint8Array or Int32Array');
    }
    return new Tensor(await native.tensorFrom(data, [...shape], resolveDeviceName(options.device)));
  }

  /** @internal wraps a handle the addon returned. */
  static fromHandle(handle: NativeTensorHandle): Tensor {
    return new Tensor(handle);
  }

  /** @internal the addon's handle, for other bindings. */
  static handleOf(tensor: Tensor): NativeTensorHandle {
    return tensor.handle;
  }

  get shape(): number[] {
    return this.handle.shape;
  }

  get dtype(): DType {
    return this.handle.dtype;
  }

  get device(): string {
    return this.handle.device;
  }

  /** Copies the data to host memory: float32, uint8 or int32 (wider types are narrowed). */
  async toArray(): Promise<TensorData> {
    try {
      return await this.handle.toArray();
    } catch (err) {
      throw asLaxrayError(err);
    }
  }

  async to(device: string): Promise<Tensor> {
    try {
      return new Tensor(await this.handle.to(resolveDeviceName(device)));
    } catch (err) {
      throw asLaxrayError(err);
    }
  }
}

/** a [N, K] × b [K, M] → [N, M], on the tensors' device. A shape mismatch rejects, naming both shapes. */
export async function matmul(a: Tensor, b: Tensor): Promise<Tensor> {
  return Tensor.fromHandle(await native.matmul(Tensor.handleOf(a), Tensor.handleOf(b)));
}
