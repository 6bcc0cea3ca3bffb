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

// atssAssign's checks of one image's gt (boxes well-formed, one label each,
// labels in [0, numClasses) when numClasses > 0), with its messages.
void checkAssignerInputs(const torch::Tensor& gtBoxes, const torch::Tensor& gtLabels, int64_t numClasses);

// The same assignment for a whole batch at once, vectorised on the anchors'
// device: no per-image loop, no host synchronisation, no input checks (model
// code: the trainer checks the ground truth where it enters). Images have
// different numbers of gts, so they come padded to G = the most in the batch.
//   gtBoxes [N, G, 4], gtLabels [N, G] int64, gtPresent [N, G] bool (false:
//   padding); valid [N, A] bool: anchors of each image that take part
//   (mmdetection's valid flags), or undefined: all. An invalid anchor is
//   background with maxIou 0, and is never a candidate: per level an image's
//   candidates are its topk closest valid anchors, as atssAssign on the valid
//   anchors alone gives.
struct AtssBatchAssignment {
  torch::Tensor labels;     // [N, A] int64: class, −1 background
  torch::Tensor matchedGt;  // [N, A] int64: index into the image's gts, −1 background
  torch::Tensor maxIou;     // [N, A] float, as AtssAssignment::maxIou
};

AtssBatchAssignment atssAssignBatch(const torch::Tensor& anchors, const std::vector<int64_t>& numAnchorsPerLevel,
                                    const torch::Tensor& gtBoxes, const torch::Tensor& gtLabels,
                                    const torch::Tensor& gtPresent, const torch::Tensor& valid, int64_t topk);

}  // namespace laxray
