// The ATSS head with optional Label-aware reweighting (docs/design.md "The head").
//
// Per FPN level: a cls tower and a reg tower (stackedConvs × [3x3 conv,
// GroupNorm(32), ReLU]), the class conv (atss_cls), the regression conv
// (atss_reg: 4 deltas, or gfl_reg: 4 × (regMax + 1) bin logits) scaled by a
// learnable per-level scalar, and a quality branch (centerness conv on the
// reg features for "delta"; for "distribution", 1x1 convs on statistics of
// each side's bin softmax: top-4 and their mean (GFLv2, the authors' LAcls
// head) or max − mean (the authors' LAreg head)). With LA, the level's
// feature is first reweighted by label_aware (first prediction), and the
// second prediction runs on x_new. laRegTwice applies the reg tower twice
// (the authors' LA heads), with or without LA.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "head_outputs.h"
#include "inspection.h"
#include "model_config.h"

namespace laxray {

// Labels the LA branch needs while training, per level (from the assigner).
struct LabelAwareTargets {
  std::vector<torch::Tensor> classLabels;  // per level [N, H, W] int64, −1 = background
  std::vector<torch::Tensor> binLabels;    // per level [N, 4, H, W] int64, −1 = not positive (LAreg)
};

// conv 3x3 (no bias) -> GroupNorm(32) -> ReLU, named conv / gn.
class ConvGnReluImpl : public torch::nn::Module {
 public:
  ConvGnReluImpl(int64_t in, int64_t out);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv{nullptr};
  torch::nn::GroupNorm gn{nullptr};
};
TORCH_MODULE(ConvGnRelu);

// A learnable scalar multiplying a level's regression output.
class ScaleImpl : public torch::nn::Module {
 public:
  ScaleImpl();
  torch::Tensor forward(const torch::Tensor& x) { return x * scale; }
  torch::Tensor scale;
};
TORCH_MODULE(Scale);

class AtssHeadImpl : public torch::nn::Module {
 public:
  AtssHeadImpl(const HeadConfig& config, int64_t inChannels);

  // features: {P3..P7} [N, inChannels, H_l, W_l]. targets: LA labels when
  // training (nullptr = test time: pseudo labels, or no reweighting when
  // config.labelAwareAtTest is false). inspection: optional named outputs.
  HeadOutputs forward(const std::vector<torch::Tensor>& features, const LabelAwareTargets* targets = nullptr,
                      Inspection* inspection = nullptr);

  const HeadConfig& config() const { return config_; }

 private:
  // The LA-reweighted features x_new of every level (the features themselves without LA).
  std::vector<torch::Tensor> labelAware(const std::vector<torch::Tensor>& features, const LabelAwareTargets* targets,
                                        Inspection* inspection);
  torch::Tensor clsTower(torch::Tensor x);
  torch::Tensor regTower(torch::Tensor x);
  // reg features -> [N, 4, H, W] deltas or [N, 4·(R+1), H, W] bin logits (scaled)
  torch::Tensor regression(const torch::Tensor& regFeatures, size_t level);
  // [N, 1, H, W] quality logits
  torch::Tensor quality(const torch::Tensor& regFeatures, const torch::Tensor& regressionOut);
  // What the quality logits predict (and weight the box losses with).
  QualityTarget qualityTarget() const;

  HeadConfig config_;
  torch::nn::ModuleList cls_convs, reg_convs;
  torch::nn::Conv2d atss_cls{nullptr}, atss_reg{nullptr}, atss_centerness{nullptr};
  torch::nn::Sequential reg_conf{nullptr};
  torch::nn::ModuleList scales;
};
TORCH_MODULE(AtssHead);

}  // namespace laxray
