// Feature pyramid on C3–C5 (mmdetection's FPN with start_level 1 and extra
// convs on the output): P3–P5 from lateral 1x1 + top-down nearest upsampling
// + 3x3 output convs; P6 = 3x3/s2 conv on P5, P7 = 3x3/s2 conv on P6 (the
// authors' config), or on relu(P6) with neck.extraReluP7 (torchvision's
// RetinaNet/FCOS).
#pragma once

#include <torch/torch.h>

#include <vector>

#include "model_config.h"

namespace laxray {

class FpnImpl : public torch::nn::Module {
 public:
  FpnImpl(const std::vector<int64_t>& inChannels, const NeckConfig& config);

  // {C3, C4, C5} -> {P3 .. P7}, each [N, outChannels, H_l, W_l]; strides 8..128.
  std::vector<torch::Tensor> forward(const std::vector<torch::Tensor>& features);

 private:
  NeckConfig config_;
  torch::nn::ModuleList lateral_convs, fpn_convs;
};
TORCH_MODULE(Fpn);

}  // namespace laxray
