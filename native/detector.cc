#include "detector.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <stdexcept>

#include "tensor_io.h"

namespace laxray {

DetectorImpl::DetectorImpl(const ModelConfig& config) : config_(config) {
  backbone = register_module("backbone", ResNet(config.backbone));
  neck = register_module("neck", Fpn(backbone->outChannels(), config.neck));
  if (static_cast<size_t>(config.neck.numOutputs) != config.head.strides.size()) {
    throw std::invalid_argument("neck.numOutputs (" + std::to_string(config.neck.numOutputs) + ") must equal the number of head.strides (" +
                                std::to_string(config.head.strides.size()) + ")");
  }
  head = register_module("head", AtssHead(config.head, config.neck.outChannels));
}

void DetectorImpl::train(bool on) {
  torch::nn::Module::train(on);
  backbone->train(on);  // re-applies frozen BN / frozen stages
}

void DetectorImpl::setExecution(const ExecutionConfig& execution, const torch::Device& device) {
  checkExecution(execution, device);
  applyProcessSettings(execution, device);
  applyLayout(*this, execution);
  execution_ = execution;
}

std::vector<torch::Tensor> DetectorImpl::pyramid(const torch::Tensor& images, Inspection* inspection) {
  checkImages(images);
  std::vector<torch::Tensor> c = backbone->forward(withLayout(images, execution_));
  std::vector<torch::Tensor> p = neck->forward(c);
  if (inspection) {
    for (size_t i = 0; i < c.size(); ++i) inspection->add("backbone.c" + std::to_string(i + 3), c[i]);
    for (size_t i = 0; i < p.size(); ++i) inspection->add("fpn.p" + std::to_string(i + 3), p[i]);
  }
  return p;
}

HeadOutputs DetectorImpl::forward(const torch::Tensor& images, const LabelAwareTargets* targets, Inspection* inspection) {
  return head->forward(pyramid(images, inspection), targets, inspection);
}

void checkImages(const torch::Tensor& images) {
  if (images.dim() != 4 || images.size(1) != 3) {
    throw std::invalid_argument("images must be [N, 3, H, W] (RGB, channels first), got " + shapeString(images.sizes()));
  }
  if (images.size(0) == 0 || images.size(2) == 0 || images.size(3) == 0) {
    throw std::invalid_argument("images " + shapeString(images.sizes()) + " are empty (zero batch, height or width)");
  }
  if (images.scalar_type() != torch::kFloat) throw std::invalid_argument("images must be float32");
  // Values are checked where they cost no wait for a device: on the CPU (imagesToDevice checks host images before upload).
  if (images.device().is_cpu() && !torch::isfinite(images).all().item<bool>()) {
    throw std::invalid_argument("images contain NaN or infinite values; check the image decoding and normalisation");
  }
}

torch::Tensor imagesToDevice(const torch::Tensor& hostImages, const torch::Device& device,
                             const std::vector<std::pair<int64_t, int64_t>>& sizes, const InputNormalisation& pixels) {
  if (hostImages.scalar_type() == torch::kByte) {
    std::vector<std::pair<int64_t, int64_t>> extents = sizes;
    if (extents.empty() && hostImages.dim() == 4) extents.assign(hostImages.size(0), {hostImages.size(3), hostImages.size(2)});
    return normaliseImages(toDevice(hostImages, device), extents, pixels);
  }
  if (device.is_cpu()) return hostImages;  // the forward pass checks them
  checkImages(hostImages);
  return toDevice(hostImages, device);
}

std::vector<std::pair<std::string, torch::Tensor>> namedState(torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> state;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) state.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers(/*recurse=*/true)) state.emplace_back(item.key(), item.value());
  return state;
}

void loadNamedState(torch::nn::Module& module, const std::vector<std::pair<std::string, torch::Tensor>>& state,
                    const std::vector<std::string>& ignoredPrefixes, const std::string& what) {
  std::map<std::string, torch::Tensor> targets;
  for (auto& [name, tensor] : namedState(module)) targets.emplace(name, tensor);
  auto ignored = [&](const std::string& name) {
    return std::any_of(ignoredPrefixes.begin(), ignoredPrefixes.end(),
                       [&](const std::string& p) { return name.rfind(p, 0) == 0; });
  };
  StateLoadReport report;
  std::map<std::string, const torch::Tensor*> given;
  for (const auto& [name, tensor] : state) {
    if (ignored(name)) continue;
    given.emplace(name, &tensor);
    auto it = targets.find(name);
    if (it == targets.end()) {
      report.unexpected.push_back(name);
    } else if (it->second.sizes() != tensor.sizes()) {
      report.shapeMismatches.push_back(name + " (file " + shapeString(tensor.sizes()) + ", model " +
                                       shapeString(it->second.sizes()) + ")");
    }
  }
  for (const auto& [name, tensor] : targets) {
    if (!given.count(name)) report.missing.push_back(name);
  }
  if (!report.missing.empty() || !report.unexpected.empty() || !report.shapeMismatches.empty()) {
    std::ostringstream msg;
    msg << what << " does not match the model:";
    auto list = [&](const char* title, const std::vector<std::string>& names) {
      if (names.empty()) return;
      msg << "\n  " << title << " (" << names.size() << "): ";
      for (size_t i = 0; i < names.size(); ++i) msg << (i ? ", " : "") << names[i];
    };
    list("missing keys", report.missing);
    list("unexpected keys", report.unexpected);
    list("shape mismatches", report.shapeMismatches);
    msg << "\nCheck that the weights were made for this configuration (depth, numClasses, regression, norm).";
    throw std::invalid_argument(msg.str());
  }
  torch::NoGradGuard noGrad;
  for (const auto& [name, tensor] : given) {
    torch::Tensor& target = targets.at(name);
    target.copy_(tensor->to(target.device(), target.scalar_type()));
  }
}

}  // namespace laxray
