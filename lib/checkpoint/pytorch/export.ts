// laxray's weights under PyTorch projects' names, so that a model trained in
// laxray loads into PyTorch by name (safetensors.torch.load_file, then
// load_state_dict):
//   'torchvision': the backbone as a torchvision ResNet state dict (no fc.*:
//                  load with strict=False, or give the model a new classifier);
//   'mmdet':       the whole detector in mmdetection's layout (the authors'
//                  ATSSLAclsHead / ATSSLAregHead, or mmdetection's ATSSHead for
//                  the delta head), with the Integral layer's constant buffer.
import type { TensorMap } from '../safetensors.js';
import { laxrayToMmdet, laxrayToTorchvision, MMDET_INTEGRAL, renameAll, type ExportLayout } from './name_maps.js';

export interface ExportHead {
  regression: 'delta' | 'distribution';
  regMax: number;
}

export function exportStateDict(tensors: TensorMap, layout: ExportLayout, head: ExportHead): TensorMap {
  if (layout === 'laxray') return tensors;
  if (layout === 'torchvision') return Object.fromEntries(renameAll(Object.entries(tensors), laxrayToTorchvision).renamed);
  const out = Object.fromEntries(renameAll(Object.entries(tensors), laxrayToMmdet).renamed);
  if (head.regression === 'distribution') {
    // Integral.project = linspace(0, reg_max, reg_max + 1), a persistent buffer of mmdetection's distribution heads.
    out[MMDET_INTEGRAL] = { data: Float32Array.from({ length: head.regMax + 1 }, (_, i) => i), shape: [head.regMax + 1] };
  }
  return out;
}
