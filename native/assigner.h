// ATSS label assignment (Zhang et al., "Bridging the Gap Between Anchor-based
// and Anchor-free Detection via Adaptive Training Sample Selection"), with
// mmdetection's ATSSAssigner semantics:
//   for each gt box: per FPN level, the `topk` anchors whose centres are
//   closest to the gt centre are candidates; thr = mean + std (unbiased) of the
//   candidates' IoUs with the gt; a candidate is positive when IoU >= thr and
//   its centre lies strictly inside the gt box (every side distance > 0.01 px);
//   an anchor positive for several gts goes to the one with the highest IoU.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace laxray {

struct AtssAssignerConfig {
  int64_t topk = 9;        // candidates per level and gt
  int64_t numClasses = 0;  // > 0: labels must lie in [0, numClasses); 0: only >= 0 is checked
};

struct AtssAssignment {
  torch::Tensor labels;      // [A] int64: the matched gt's class, −1 for background
  torch::Tensor matchedGt;   // [A] int64: index into gtBoxes, −1 for background
  torch::Tensor maxIou;      // [A] float: positives: IoU with their matched gt;
                             //            background: the largest IoU with any gt (0 without gts)
  torch::Tensor thresholds;  // [G] float: mean + std of each gt's candidate IoUs
};

// anchors: [A, 4] x1y1x2y2 (levels concatenated, numAnchorsPerLevel sums to A);
// gtBoxes: [G, 4] x1y1x2y2 (G may be 0: everything is background);
// gtLabels: [G] integer class ids.
// Throws std::invalid_argument for malformed boxes (x2 < x1, NaN), labels out of
// range or mismatched sizes, naming the argument and the row.
AtssAssignment atssAssign(const torch::Tensor& anchors, const std::vector<int64_t>& numAnchorsPerLevel,
                          const torch::Tensor& gtBoxes, const torch::Tensor& gtLabels,
                          const AtssAssignerConfig& config = {});

}  // namespace laxray
