#include "label_aware.h"

#include <stdexcept>

#include "precision.h"
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

// Labels must have the predictions' shape without the class (bin) dimension.
void checkShape(const torch::Tensor& labels, const std::vector<int64_t>& expected, const std::string& what, const torch::Tensor& y) {
  if (!labels.defined() || labels.sizes() != at::IntArrayRef(expected)) {
    throw std::invalid_argument("label-aware: " + what + " " + (labels.defined() ? shapeString(labels.sizes()) : std::string("(none)")) +
                                " do not match predictions " + shapeString(y.sizes()));
  }
}

// Per level ∇x̃ Σ(y·target) in one backward pass over all levels, without
// building a graph of the gradient (the weights are constants). A level the
// objective does not reach gets zeros.
std::vector<torch::Tensor> gradientsOf(const std::vector<torch::Tensor>& ys, const std::vector<torch::Tensor>& targets,
                                       const std::vector<torch::Tensor>& xTildes, bool keepGraph) {
  std::vector<torch::Tensor> objectives;
  for (size_t l = 0; l < ys.size(); ++l) objectives.push_back((ys[l] * targets[l]).sum());
  std::vector<torch::Tensor> grads = torch::autograd::grad(objectives, xTildes, /*grad_outputs=*/{}, /*retain_graph=*/keepGraph,
                                                           /*create_graph=*/false, /*allow_unused=*/true);
  for (size_t l = 0; l < grads.size(); ++l) {
    if (!grads[l].defined()) grads[l] = torch::zeros_like(xTildes[l]);
  }
  return grads;
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

std::vector<LabelAwareClsResult> labelAwareCls(const std::vector<torch::Tensor>& xs, const ClassProbability& predict,
                                               const std::vector<torch::Tensor>& labels,
                                               const LabelAwareCoefficients& coefficients, LabelAwareWeight weighting) {
  torch::AutoGradMode gradients(true);  // LA needs autograd at test time too
  LabelAwarePrecisionScope fullPrecision;
  std::vector<torch::Tensor> xTildes, ys, hats, misleading;
  for (size_t l = 0; l < xs.size(); ++l) {
    xTildes.push_back(fullPrecision.input(xs[l]).detach().requires_grad_(true));
    torch::Tensor y = predict(xTildes.back(), l);  // [N, C, H, W]
    const int64_t classes = y.size(1);
    if (!labels.empty()) checkShape(labels.at(l), {y.size(0), y.size(2), y.size(3)}, "labels", y);
    // ŷ: the assigned class, or the pseudo label argmax y; one-hot [N, C, H, W]
    torch::Tensor hat = labels.empty() ? oneHotAlong(y.detach().argmax(1), classes, 1)
                                       : oneHotAlong(labels.at(l).to(torch::kLong), classes, 1);
    // y*: the most probable class other than ŷ's (for background: the most probable class).
    misleading.push_back(oneHotAlong((y.detach() * (1 - hat)).argmax(1), classes, 1));
    hats.push_back(hat);
    ys.push_back(y);
  }
  std::vector<torch::Tensor> g1 = gradientsOf(ys, hats, xTildes, /*keepGraph=*/true);
  std::vector<torch::Tensor> g2 = gradientsOf(ys, misleading, xTildes, /*keepGraph=*/false);
  const auto& [a, b, c] = coefficients;
  std::vector<LabelAwareClsResult> out;
  for (size_t l = 0; l < xs.size(); ++l) {
    torch::Tensor x = fullPrecision.input(xs[l]);  // the feature itself: the loss's gradient flows back through it
    torch::Tensor w1 = labelAwareWeight(g1[l], weighting);  // σ(g1)
    torch::Tensor w2 = labelAwareWeight(g2[l], weighting);  // σ(g2)
    // Eq. 5 (eq. 7's coefficients), x_new = a·x + b·w1·x − c·w2·x, as one product with x.
    torch::Tensor xNew = x * (a + b * w1 - c * w2);
    out.push_back({xNew, w1, w2});
  }
  return out;
}

std::vector<LabelAwareRegResult> labelAwareReg(const std::vector<torch::Tensor>& xs, const BinProbability& predict,
                                               const std::vector<torch::Tensor>& bins, LabelAwareWeight weighting) {
  torch::AutoGradMode gradients(true);
  LabelAwarePrecisionScope fullPrecision;
  std::vector<torch::Tensor> xTildes, ys, hats;
  for (size_t l = 0; l < xs.size(); ++l) {
    xTildes.push_back(fullPrecision.input(xs[l]).detach().requires_grad_(true));
    torch::Tensor y = predict(xTildes.back(), l);  // [N, 4, R + 1, H, W]
    const int64_t numBins = y.size(2);
    torch::Tensor pseudo = oneHotAlong(y.detach().argmax(2), numBins, 2);  // ŷ: [N, 4, R + 1, H, W] one-hot over bins
    if (bins.empty()) {
      hats.push_back(pseudo);
    } else {
      // The target bins (not positive: bin 0), or the pseudo labels when the level has no positive;
      // chosen on the device, so the choice needs no read-back.
      const torch::Tensor& level = bins.at(l);
      checkShape(level, {y.size(0), 4, y.size(3), y.size(4)}, "target bins", y);
      torch::Tensor assigned = oneHotAlong(level.to(torch::kLong).clamp_min(0), numBins, 2);
      hats.push_back(torch::where(level.ge(0).any(), assigned, pseudo));
    }
    ys.push_back(y);
  }
  std::vector<torch::Tensor> g = gradientsOf(ys, hats, xTildes, /*keepGraph=*/false);
  std::vector<LabelAwareRegResult> out;
  for (size_t l = 0; l < xs.size(); ++l) {
    torch::Tensor x = fullPrecision.input(xs[l]);
    torch::Tensor w = labelAwareWeight(g[l], weighting);  // σ(g)
    // Eq. 6, x_new = 0.5·x + w·x, as one product with x.
    out.push_back({x * (0.5 + w), w});
  }
  return out;
}

}  // namespace laxray
