// What the ATSS head produces for a batch, flattened over FPN levels, and the
// anchors it is read against. The contract between atss_head (producer) and
// assigner / losses / postprocess (consumers).
#pragma once

#include <torch/torch.h>

#include <vector>

namespace laxray {

enum class RegressionKind { Delta, Distribution };

struct HeadOutputs {
  RegressionKind regression = RegressionKind::Delta;
  int64_t regMax = 16;  // distribution head: bins 0..regMax (distances in stride units)
  // Levels are concatenated P3..P7; within a level, locations are row-major (y, then x).
  torch::Tensor clsLogits;      // [N, A, C]
  torch::Tensor boxRegression;  // delta: [N, A, 4] encoded deltas (after the per-level scale)
                                // distribution: [N, A, 4, regMax + 1] logits (left, top, right, bottom)
  torch::Tensor qualityLogits;  // [N, A] centerness (delta) or IoU quality (distribution) logits
  std::vector<int64_t> numAnchorsPerLevel;  // sums to A
  std::vector<int64_t> strides;             // per level: 8, 16, 32, 64, 128
};

}  // namespace laxray
