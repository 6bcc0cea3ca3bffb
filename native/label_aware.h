// The Label-aware mechanism (paper §IV.B–E, docs/design.md "The Label-aware mechanism").
//
// On a detached copy x̃ of a level's FPN feature x, a first prediction y is
// made; the gradient of Σ(y·ŷ) with respect to x̃ says which feature entries
// support the label ŷ. Its sigmoid reweights x:
//   LAcls (eq. 5):  x_new = a·x + b·w1·x − c·w2·x,
//                   w1 = σ(∇x̃ Σ(y·ŷ)),  w2 = σ(∇x̃ Σ(y·y*)),
//                   y* = the misleading class: argmax of y with ŷ's class zeroed
//   LAreg (eq. 6):  x_new = 0.5·x + σ(∇x̃ Σ(y·ŷ))·x,  ŷ = the target distance bin per side
// ŷ is the assigned label when training and the argmax of y (pseudo label)
// at test time. The weights are constants for the optimiser (no
// create_graph): gradients reach the parameters only through x_new.
// LabelAwareWeight::Scaled replaces σ(g) by σ(g / τ), τ the standard deviation
// of g over its C×H×W entries per image (a scale-free variant, not the paper's).
//
// All FPN levels go through at once: every level's first prediction, then one
// gradient per objective over all levels (each level's x̃ receives only its own
// level's gradient, the levels being independent), so LAcls costs two autograd
// passes per forward, not two per level. Under bf16/fp16 autocast the first
// prediction, the gradients and the reweighting run in float32
// (LabelAwarePrecisionScope): w1 − w2 is small, below bfloat16's resolution of x.
#pragma once

#include <torch/torch.h>

#include <functional>

#include "model_config.h"

namespace laxray {

// (x̃ [N, Cin, H, W], level) -> y = sigmoid(class logits) [N, C, H, W]
using ClassProbability = std::function<torch::Tensor(const torch::Tensor&, size_t)>;
// (x̃ [N, Cin, H, W], level) -> y = sigmoid(bin logits) [N, 4, regMax + 1, H, W]
using BinProbability = std::function<torch::Tensor(const torch::Tensor&, size_t)>;

struct LabelAwareClsResult {
  torch::Tensor xNew;  // [N, Cin, H, W]
  torch::Tensor w1;    // [N, Cin, H, W], σ(∇ Σ y·ŷ)
  torch::Tensor w2;    // [N, Cin, H, W], σ(∇ Σ y·y*)
};

struct LabelAwareRegResult {
  torch::Tensor xNew;  // [N, Cin, H, W]
  torch::Tensor w;     // [N, Cin, H, W], σ(∇ Σ y·ŷ)
};

// xs: the levels' features; labels: per level [N, H, W] int64 assigned class
// (−1 = background: ŷ is the zero vector), or empty for pseudo labels (test
// time). Labels are not checked here (they come from the assigner; the
// bindings check what users pass). -> one result per level.
std::vector<LabelAwareClsResult> labelAwareCls(const std::vector<torch::Tensor>& xs, const ClassProbability& predict,
                                               const std::vector<torch::Tensor>& labels,
                                               const LabelAwareCoefficients& coefficients,
                                               LabelAwareWeight weighting = LabelAwareWeight::Sigmoid);

// bins: per level [N, 4, H, W] int64 target bin per side (−1 = not a
// positive), or empty for pseudo labels (argmax per side). As the authors'
// code: an anchor that is not a positive takes bin 0 (their target bins start
// as zeros), and when no anchor of a level is positive in the batch every
// anchor of it takes the pseudo label, as at test time.
std::vector<LabelAwareRegResult> labelAwareReg(const std::vector<torch::Tensor>& xs, const BinProbability& predict,
                                               const std::vector<torch::Tensor>& bins,
                                               LabelAwareWeight weighting = LabelAwareWeight::Sigmoid);

// The weight of a feature gradient g [N, C, H, W]: σ(g), or σ(g / τ) with
// τ = std of g over C×H×W per image (population std, at least 1e-12).
torch::Tensor labelAwareWeight(const torch::Tensor& gradient, LabelAwareWeight weighting);

}  // namespace laxray
