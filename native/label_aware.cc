#include "label_aware.h"

#include <stdexcept>

#include "tensor_io.h"

namespace laxray {
namespace {

// One-hot along `dim` of `labels` (−1 -> all zeros). labels: shape of y without `dim`.
torch::Tensor oneHotAlong(const torch::Tensor& labels, int64_t classes, int64_t dim) {
  torch::Tensor valid = labels.ge(0);
  torch::Tensor hot = torch::one_hot(labels.clamp_min(0), classes).to(torch::kFloat);  // [..., classes]
  hot = hot * valid.unsqueeze(-1).to(torch::kFloat);
  return hot.movedim(-1, dim);
}

// ∇x̃ Σ(y·target), without building a graph of the gradient (the weights are constants).
torch::Tensor gradientOf(const torch::Tensor& y, const torch::Tensor& target, const torch::Tensor& xTilde, bool keepGraph) {
  torch::Tensor objective = (y * target).sum();
  return torch::autograd::grad({objective}, {xTilde}, /*grad_outputs=*/{}, /*retain_graph=*/keepGraph,
                               /*create_graph=*/false, /*allow_unused=*/true)[0];
}

torch::Tensor zerosIfUndefined(const torch::Tensor& gradient, const torch::Tensor& like) {
  return gradient.defined() ? gradient : torch::zeros_like(like);
}

constexpr double kMinGradientScale = 1e-12;  // τ floor: a constant gradient gives w = σ(0) = 0.5

}  // namespace

torch::Tensor labelAwareWeight(const torch::Tensor& gradient, LabelAwareWeight weighting) {
  if (weighting == LabelAwareWeight::Sigmoid) return torch::sigmoid(gradient);
  // τ per image: std over C×H×W, so an image's weights do not depend on the rest of the batch.
  torch::Tensor flat = gradient.flatten(1);                                        // [N, C·H·W]
  torch::Tensor tau = (flat - flat.mean(1, /*keepdim=*/true)).pow(2).mean(1).sqrt();  // [N]
  tau = tau.clamp_min(kMinGradientScale).reshape({-1, 1, 1, 1});
  return torch::sigmoid(gradient / tau);
}

LabelAwareClsResult labelAwareCls(const torch::Tensor& x, const ClassProbability& predict, const torch::Tensor& labels,
                                  const LabelAwareCoefficients& coefficients, LabelAwareWeight weighting) {
  torch::AutoGradMode gradients(true);  // LA needs autograd at test time too
  torch::Tensor xTilde = x.detach().requires_grad_(true);
  torch::Tensor y = predict(xTilde);  // [N, C, H, W]
  const int64_t classes = y.size(1);

  torch::Tensor label;  // ŷ: [N, C, H, W] one-hot
  if (labels.defined()) {
    if (labels.dim() != 3 || labels.size(0) != y.size(0) || labels.size(1) != y.size(2) || labels.size(2) != y.size(3)) {
      throw std::invalid_argument("label-aware: labels " + shapeString(labels.sizes()) + " do not match predictions " +
                                  shapeString(y.sizes()));
    }
    if (labels.numel() > 0 && (labels.max().item<int64_t>() >= classes || labels.min().item<int64_t>() < -1)) {
      throw std::invalid_argument("label-aware: labels must be −1 (background) or 0.." + std::to_string(classes - 1));
    }
    label = oneHotAlong(labels.to(torch::kLong), classes, 1);
  } else {
    label = oneHotAlong(y.detach().argmax(1), classes, 1);  // pseudo label
  }
  // y*: the most probable class other than ŷ's (for background: the most probable class).
  torch::Tensor misleading = oneHotAlong((y.detach() * (1 - label)).argmax(1), classes, 1);

  torch::Tensor g1 = zerosIfUndefined(gradientOf(y, label, xTilde, /*keepGraph=*/true), x);
  torch::Tensor g2 = zerosIfUndefined(gradientOf(y, misleading, xTilde, /*keepGraph=*/false), x);
  torch::Tensor w1 = labelAwareWeight(g1, weighting);  // σ(g1)
  torch::Tensor w2 = labelAwareWeight(g2, weighting);  // σ(g2)
  const auto& [a, b, c] = coefficients;
  torch::Tensor xNew = a * x + b * w1 * x - c * w2 * x;
  return {xNew, w1, w2};
}

LabelAwareRegResult labelAwareReg(const torch::Tensor& x, const BinProbability& predict, const torch::Tensor& bins,
                                  LabelAwareWeight weighting) {
  torch::AutoGradMode gradients(true);
  torch::Tensor xTilde = x.detach().requires_grad_(true);
  torch::Tensor y = predict(xTilde);  // [N, 4, R + 1, H, W]
  const int64_t numBins = y.size(2);

  torch::Tensor label;  // ŷ: [N, 4, R + 1, H, W] one-hot over bins
  if (bins.defined()) {
    if (bins.dim() != 4 || bins.size(0) != y.size(0) || bins.size(1) != 4 || bins.size(2) != y.size(3) ||
        bins.size(3) != y.size(4)) {
      throw std::invalid_argument("label-aware: target bins " + shapeString(bins.sizes()) + " do not match predictions " +
                                  shapeString(y.sizes()));
    }
    if (bins.numel() > 0 && (bins.max().item<int64_t>() >= numBins || bins.min().item<int64_t>() < -1)) {
      throw std::invalid_argument("label-aware: target bins must be −1 (not positive) or 0.." + std::to_string(numBins - 1));
    }
  }
  if (bins.defined() && bins.ge(0).any().item<bool>()) {
    label = oneHotAlong(bins.to(torch::kLong).clamp_min(0), numBins, 2);  // not positive: bin 0
  } else {
    label = oneHotAlong(y.detach().argmax(2), numBins, 2);  // pseudo labels (test time, or no positive)
  }
  torch::Tensor g = zerosIfUndefined(gradientOf(y, label, xTilde, /*keepGraph=*/false), x);
  torch::Tensor w = labelAwareWeight(g, weighting);  // σ(g)
  return {0.5 * x + w * x, w};
}

}  // namespace laxray
