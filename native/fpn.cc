#include "fpn.h"

#include <stdexcept>
#include <string>

namespace laxray {

FpnImpl::FpnImpl(const std::vector<int64_t>& inChannels, const NeckConfig& config) : config_(config) {
  if (inChannels.size() != 3) throw std::invalid_argument("FPN expects 3 input levels (C3, C4, C5)");
  if (config.numOutputs < 3) {
    throw std::invalid_argument("neck.numOutputs must be at least 3, got " + std::to_string(config.numOutputs));
  }
  const int64_t out = config.outChannels;
  lateral_convs = register_module("lateral_convs", torch::nn::ModuleList());
  fpn_convs = register_module("fpn_convs", torch::nn::ModuleList());
  for (int64_t in : inChannels) {
    lateral_convs->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1)));
    fpn_convs->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(out, out, 3).padding(1)));
  }
  for (int i = 3; i < config.numOutputs; ++i) {  // P6, P7: stride-2 convs on the output
    fpn_convs->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(out, out, 3).stride(2).padding(1)));
  }
  // Xavier-uniform weights, zero bias (mmdetection's FPN init).
  for (auto& module : modules(false)) {
    if (auto* conv = module->as<torch::nn::Conv2d>()) {
      torch::nn::init::xavier_uniform_(conv->weight);
      torch::nn::init::zeros_(conv->bias);
    }
  }
}

std::vector<torch::Tensor> FpnImpl::forward(const std::vector<torch::Tensor>& features) {
  const size_t levels = lateral_convs->size();
  if (features.size() != levels) throw std::invalid_argument("FPN got " + std::to_string(features.size()) + " inputs");
  std::vector<torch::Tensor> laterals;
  for (size_t i = 0; i < levels; ++i) laterals.push_back(lateral_convs[i]->as<torch::nn::Conv2d>()->forward(features[i]));
  // Top-down: upsample to the exact size of the finer level (odd sizes do not halve evenly).
  for (size_t i = levels - 1; i > 0; --i) {
    auto size = std::vector<int64_t>{laterals[i - 1].size(2), laterals[i - 1].size(3)};
    laterals[i - 1] = laterals[i - 1] + torch::nn::functional::interpolate(
                                            laterals[i], torch::nn::functional::InterpolateFuncOptions().size(size).mode(torch::kNearest));
  }
  std::vector<torch::Tensor> outs;
  for (size_t i = 0; i < levels; ++i) outs.push_back(fpn_convs[i]->as<torch::nn::Conv2d>()->forward(laterals[i]));
  for (int i = static_cast<int>(levels); i < config_.numOutputs; ++i) {
    const bool afterP6 = i > static_cast<int>(levels);
    torch::Tensor input = afterP6 && config_.extraReluP7 ? torch::relu(outs.back()) : outs.back();
    outs.push_back(fpn_convs[i]->as<torch::nn::Conv2d>()->forward(input));
  }
  return outs;
}

}  // namespace laxray
