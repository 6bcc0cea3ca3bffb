// The whole detector: ResNet backbone -> FPN -> ATSS head (with LA), and the
// operations the engine runs on it. Plain C++: bindings wrap it.
#pragma once

#include <torch/torch.h>

#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "atss_head.h"
#include "fpn.h"
#include "head_outputs.h"
#include "input.h"
#include "inspection.h"
#include "model_config.h"
#include "precision.h"
#include "resnet.h"

namespace laxray {

class DetectorImpl : public torch::nn::Module {
 public:
  explicit DetectorImpl(const ModelConfig& config);

  // images: [N, 3, H, W] normalised float -> the head's outputs (test mode:
  // LA uses pseudo labels). Any H, W >= 1; levels follow conv arithmetic.
  HeadOutputs forward(const torch::Tensor& images, const LabelAwareTargets* targets = nullptr,
                      Inspection* inspection = nullptr);

  // images -> {P3..P7} (backbone + FPN), checking the images first.
  std::vector<torch::Tensor> pyramid(const torch::Tensor& images, Inspection* inspection = nullptr);

  const ModelConfig& config() const { return config_; }
  void train(bool on = true) override;

  // How calls run: precision (autocast), layout. Set once after moving the
  // model to its device (converts the weights' layout); checked against it.
  const ExecutionConfig& execution() const { return execution_; }
  void setExecution(const ExecutionConfig& execution, const torch::Device& device);

  ResNet backbone{nullptr};
  Fpn neck{nullptr};
  AtssHead head{nullptr};

 private:
  ModelConfig config_;
  ExecutionConfig execution_;
};
TORCH_MODULE(Detector);

// Throws std::invalid_argument naming the problem when `images` is not a
// finite, non-empty [N, 3, H, W] float tensor. The finiteness of images
// already on a GPU is not checked (it would wait for the device): upload
// with imagesToDevice, which checks them on the host first.
void checkImages(const torch::Tensor& images);

// A host batch [N, 3, H, W] as the network input on `device`, without blocking
// the host on CUDA: float32 (normalised) is checked and moved; uint8 (raw RGB,
// a quarter of the bytes) is moved and normalised there with `pixels`, the
// padding outside each image's `sizes` (width, height) set to 0.
torch::Tensor imagesToDevice(const torch::Tensor& hostImages, const torch::Device& device,
                             const std::vector<std::pair<int64_t, int64_t>>& sizes = {},
                             const InputNormalisation& pixels = {});

// Every parameter and buffer by its dotted name (the checkpoint's keys).
std::vector<std::pair<std::string, torch::Tensor>> namedState(torch::nn::Module& module);

struct StateLoadReport {
  std::vector<std::string> missing, unexpected, shapeMismatches;
};

// Copies `state` into the module's parameters/buffers (names relative to the
// module; `prefix` is prepended to module names when matching, e.g. "backbone."
// is stripped). Throws std::invalid_argument listing every missing key,
// unexpected key and shape mismatch; `ignoredPrefixes` are skipped (e.g. "fc.").
void loadNamedState(torch::nn::Module& module, const std::vector<std::pair<std::string, torch::Tensor>>& state,
                    const std::vector<std::string>& ignoredPrefixes, const std::string& what);

}  // namespace laxray
