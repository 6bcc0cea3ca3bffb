// SGD with momentum and weight decay, PyTorch's semantics (dampening 0, no
// Nesterov): d = grad + weightDecay·p; buf = momentum·buf + d (buf = d on the
// first step); p -= lr·buf. Written out here (rather than torch::optim::SGD) so
// the momentum buffers are plain named tensors a checkpoint can save and
// restore exactly, on LibTorch 1.13 and 2.x alike.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace laxray {

struct SgdOptions {
  double momentum = 0.9;
  double weightDecay = 1e-4;
};

class Sgd {
 public:
  // Only parameters that require grad are optimised.
  Sgd(const std::vector<std::pair<std::string, torch::Tensor>>& namedParameters, SgdOptions options);

  void zeroGrad();
  // One update with learning rate `lr` from the parameters' current .grad.
  void step(double lr);

  // L2 norm of all gradients as a scalar tensor on their device: one
  // reduction over per-parameter norms (_foreach_norm), nothing read back.
  torch::Tensor gradNormTensor() const;
  // Multiplies every gradient by `factor` (loss-scale removal).
  void scaleGradients(double factor);
  // torch.nn.utils.clip_grad_norm_ given the norm already read: scales the
  // gradients down to maxNorm when `norm` is above it.
  void clipGradients(double maxNorm, double norm);

  // Momentum buffers by parameter name (absent until the first step).
  std::vector<std::pair<std::string, torch::Tensor>> state() const;
  // Restores buffers; throws std::invalid_argument naming unknown or mis-shaped entries.
  void loadState(const std::vector<std::pair<std::string, torch::Tensor>>& state);

  const SgdOptions& options() const { return options_; }
  void setOptions(SgdOptions options) { options_ = options; }

 private:
  std::vector<torch::Tensor> gradients() const;  // the defined ones

  SgdOptions options_;
  std::vector<std::pair<std::string, torch::Tensor>> parameters_;
  std::map<std::string, torch::Tensor> momentum_;
};

}  // namespace laxray
