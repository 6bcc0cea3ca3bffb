// What the ATSS head produces for a batch, flattened over FPN levels, and the
// anchors it is read against. The contract between atss_head (producer) and
// assigner / losses / postprocess (consumers).
#pragma once

#include <torch/torch.h>

#include <vector>

namespace laxray {

enum class RegressionKind { Delta, Distribution };

// What the quality logit predicts, and so what weights the box and bin losses:
// the ATSS centerness of the anchor centre in its gt (delta head; the authors'
// LAreg head), or the IoU of the decoded prediction with its gt (distribution
// head, GFL-style; the authors' LAcls head).
enum class QualityTarget { Centerness, Iou };

struct HeadOutputs {
  RegressionKind regression = RegressionKind::Delta;
  int64_t regMax = 16;  // distribution head: bins 0..regMax (distances in stride units)
  QualityTarget qualityTarget = QualityTarget::Centerness;
  // Levels are concatenated P3..P7; within a level, locations are row-major (y, then x).
  torch::Tensor clsLogits;      // [N, A, C]
  torch::Tensor boxRegression;  // delta: [N, A, 4] encoded deltas (after the per-level scale)
                                // distribution: [N, A, 4, regMax + 1] logits (left, top, right, bottom)
  torch::Tensor qualityLogits;  // [N, A] logits of the qualityTarget
  std::vector<int64_t> numAnchorsPerLevel;  // sums to A
  std::vector<int64_t> strides;             // per level: 8, 16, 32, 64, 128
};

}  // namespace laxray
