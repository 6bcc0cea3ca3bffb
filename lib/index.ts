// laxray's public API. Each facet lives in its own module; this file only
// re-exports them.
export { LaxrayError, type LaxrayErrorCode } from './errors.js';
export { runtimeInfo, setThreads, type RuntimeInfo } from './runtime.js';
export { Tensor, matmul, type DType, type HostArray, type TensorData } from './tensor.js';
export { resolveDeviceName, type DeviceName } from './device.js';
