// ResNet-18/34/50 backbone with torchvision's module layout and parameter
// names (conv1, bn1, layer1.0.conv1, layer1.0.downsample.0, ...), so a
// torchvision state dict loads unchanged. Stride sits on the 3x3 conv
// (torchvision's "ResNet v1.5"). Returns C3, C4, C5.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "model_config.h"

namespace laxray {

// A norm layer as chosen by the config: BatchNorm2d or GroupNorm(32). Frozen
// BN is a BatchNorm2d (torchvision's names and buffers) that ResNet keeps in
// eval mode: mmdetection's norm_eval, statistics fixed, γ/β trained outside
// the frozen stages.
torch::nn::AnyModule makeNorm(NormKind kind, int64_t channels);

class BasicBlockImpl : public torch::nn::Module {
 public:
  static constexpr int64_t expansion = 1;
  BasicBlockImpl(int64_t inPlanes, int64_t planes, int64_t stride, NormKind norm);
  // x: [N, inPlanes, H, W] -> [N, planes, H/stride, W/stride]
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::AnyModule bn1, bn2;
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(BasicBlock);

class BottleneckImpl : public torch::nn::Module {
 public:
  static constexpr int64_t expansion = 4;
  BottleneckImpl(int64_t inPlanes, int64_t planes, int64_t stride, NormKind norm);
  // x: [N, inPlanes, H, W] -> [N, 4·planes, H/stride, W/stride]
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::AnyModule bn1, bn2, bn3;
  torch::nn::Sequential downsample{nullptr};
};
TORCH_MODULE(Bottleneck);

class ResNetImpl : public torch::nn::Module {
 public:
  explicit ResNetImpl(const BackboneConfig& config);

  // x: [N, 3, H, W] -> {C3 [N, c3, H/8, W/8], C4 [.., H/16, W/16], C5 [.., H/32, W/32]}
  std::vector<torch::Tensor> forward(const torch::Tensor& x);

  // Channels of C3, C4, C5: (128, 256, 512) for depth 18/34, (512, 1024, 2048) for 50.
  std::vector<int64_t> outChannels() const;

  // Keeps frozen BN (and the frozen stages) in eval mode whatever the rest of the model does.
  void train(bool on = true) override;

  // Stops gradients into the first `stages` stages (1 = stem + layer1).
  void freezeStages(int stages);

 private:
  torch::nn::Sequential makeLayer(int64_t planes, int blocks, int64_t stride);

  BackboneConfig config_;
  bool bottleneck_;
  int64_t inPlanes_ = 64;
  int frozenStages_ = 0;
  torch::nn::Conv2d conv1{nullptr};
  torch::nn::AnyModule bn1;
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr}, layer4{nullptr};
};
TORCH_MODULE(ResNet);

}  // namespace laxray
