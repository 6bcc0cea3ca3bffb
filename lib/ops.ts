// `laxray/ops`: tensor and box operations on plain typed arrays, for users and tests.
export { Tensor, matmul, type DType, type HostArray, type TensorData } from './tensor.js';
export { labelAwareCls, labelAwareReg, type LabelAwareClsInput, type LabelAwareRegInput } from './label_aware.js';
