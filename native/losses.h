// Training targets and losses of the ATSS head (delta or distribution
// regression), as the authors' mmdetection fork computes them:
//   cls          sigmoid focal (α 0.25, γ 2) summed over the valid anchors × classes
//                / num_pos, num_pos = Σ over images of max(positives, 1)
//   box          GIoU loss × 2.0, each positive weighted by its quality target
//                (outputs.qualityTarget: the ATSS centerness, or the IoU of the
//                decoded prediction with its gt, detached) / Σ weights
//   quality      BCE-with-logits of the quality logit vs that target / num_pos
//   distribution (distribution head only) sigmoid focal loss over the regMax + 1
//                bins of each side against a one-hot target at floor(target
//                distance), summed over bins, weighted per positive by its
//                quality target, / 4 sides / Σ weights, × distributionLossWeight
//                (1.0: the authors' loss_d).
// Σ weights is replaced by 1 only when it is below 1e-12 (their
// `if bbox_avg_factor < EPS`); both sums run over the whole batch. In
// data-parallel training both normalisers are first averaged over the
// processes (mmdetection's `reduce_mean`) by the `reduceMean` hook, so the
// averaged gradients equal one process's on the whole global batch.
// Anchors outside their image's padded extent (AtssTargets::valid) are neither
// assigned nor in any loss (mmdetection's valid flags).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "box_coder.h"
#include "head_outputs.h"

namespace laxray {

enum class Reduction { None, Sum, Mean };

// "none" | "sum" | "mean"; anything else throws std::invalid_argument.
Reduction reductionFromString(const std::string& name);

// torchvision.ops.sigmoid_focal_loss: logits, targets same shape (targets in
// [0, 1]); loss = BCE · (1 − p_t)^γ · α_t, α_t = α·t + (1 − α)(1 − t) (no α
// weighting when alpha < 0). None keeps the shape; Sum/Mean give a scalar.
torch::Tensor sigmoidFocalLoss(const torch::Tensor& logits, const torch::Tensor& targets, double alpha = 0.25,
                               double gamma = 2.0, Reduction reduction = Reduction::None);

// 1 − GIoU of aligned pairs: pred, target: [K, 4] -> [K].
torch::Tensor giouLoss(const torch::Tensor& pred, const torch::Tensor& target);

struct AtssTargetConfig {
  int64_t topk = 9;
  int64_t numClasses = 0;  // > 0: gt labels are checked against it
  int64_t regMax = 16;     // distribution head: bins 0..regMax
  DeltaCoderConfig deltaCoder;
};

// Per image and anchor, what the head should predict. N images, A anchors.
struct AtssTargets {
  torch::Tensor valid;            // [N, A] bool: the anchor lies in its image (mmdetection's valid flags)
  torch::Tensor labels;           // [N, A] int64: class id, −1 background (and every invalid anchor)
  torch::Tensor matchedGt;        // [N, A] int64: index into that image's gt boxes, −1 background
  torch::Tensor maxIou;           // [N, A] float (see AtssAssignment::maxIou)
  torch::Tensor positive;         // [N, A] bool: labels >= 0
  torch::Tensor boxTargets;       // [N, A, 4] float: matched gt box x1y1x2y2 in input px (0 for background)
  torch::Tensor deltaTargets;     // [N, A, 4] float: delta-coded gt box (0 for background)
  torch::Tensor centerness;       // [N, A] float: centerness target of the anchor centre in its gt (0 for background)
  torch::Tensor distanceTargets;  // [N, A, 4] float: l, t, r, b from the anchor centre in stride units,
                                  //                  clamped to [0, regMax − 0.01] (0 for background)
  torch::Tensor distanceBins;     // [N, A, 4] int64: floor(distanceTargets) in [0, regMax − 1]; −1 for background
  torch::Tensor anchors;          // [A, 4] the anchors the targets were built for
  torch::Tensor anchorCenters;    // [A, 2]
  torch::Tensor anchorStrides;    // [A] float: stride of each anchor's level
  std::vector<int64_t> numAnchorsPerLevel;
  std::vector<int64_t> strides;
  torch::Tensor numPositive;  // int64 scalar on the device: positives over the batch
  int64_t numClasses = 0;
  int64_t regMax = 16;
};

// anchors: [A, 4] (generateAnchors); gtBoxes[i]: [G_i, 4] x1y1x2y2 in input px;
// gtLabels[i]: [G_i] integer class ids; validAnchors[i]: [A] bool
// (validAnchorFlags), or empty: every anchor is valid. Assigns each image on
// its valid anchors only (mmdetection's inside_flags), the whole batch at once
// on the anchors' device (atssAssignBatch): the gts are padded where they are
// (the host, in training) and moved over in one copy; nothing is read back.
// Gts on the CPU are checked first: std::invalid_argument for malformed boxes
// or labels (see atssAssign), naming the image. Gts already on a device are
// taken as they are.
AtssTargets buildTargets(const torch::Tensor& anchors, const std::vector<int64_t>& numAnchorsPerLevel,
                         const std::vector<int64_t>& strides, const std::vector<torch::Tensor>& gtBoxes,
                         const std::vector<torch::Tensor>& gtLabels, const AtssTargetConfig& config = {},
                         const std::vector<torch::Tensor>& validAnchors = {});

struct LossConfig {
  double focalAlpha = 0.25;
  double focalGamma = 2.0;
  double clsWeight = 1.0;
  double boxWeight = 2.0;      // GIoU loss weight (ATSS / GFL configs)
  double qualityWeight = 1.0;  // centerness / IoU-quality BCE
  // Weight of the bin focal loss of the distribution head: 1.0 as the
  // authors' loss_d (GFL's distribution focal loss uses 0.25).
  double distributionLossWeight = 1.0;
  DeltaCoderConfig deltaCoder;
};

struct DetectionLoss {
  torch::Tensor cls;           // scalar
  torch::Tensor box;           // scalar (gradient-safe 0 without positives)
  torch::Tensor quality;       // scalar (gradient-safe 0 without positives)
  torch::Tensor distribution;  // scalar; undefined for the delta head
  torch::Tensor total;         // the sum of the above
  // Scalars kept on the device (reading them would wait for it); the trainer
  // reads everything a step reports in one copy.
  torch::Tensor numPositive;       // int64
  torch::Tensor qualityWeightSum;  // Σ weights of the box loss (its normaliser unless < 1e-12)
  // The least the quality term can be on this batch: BCE against a soft target
  // t is at least its entropy H(t), so this is qualityWeight · Σ H(t) / num_pos,
  // the value of `quality` if every quality logit were exactly logit(t).
  torch::Tensor qualityFloor;

  // ("cls", cls), ("box", box), ("quality", quality), ["distribution", …],
  // ("quality_floor", qualityFloor), ("total", total). quality_floor is not a
  // term of total but the level the quality term is read against: a quality
  // BCE flat near ln 2 may sit on its floor (targets near 0.5) or above it (a
  // branch that has not learned yet), and the training report tells which.
  std::vector<std::pair<std::string, torch::Tensor>> named() const;
};

// Mean over data-parallel processes of [num_pos, Σ quality weights] (a float
// tensor of 2 on the loss's device, reduced there); every process calls it
// exactly once per computeLosses. Empty: one process.
using NormaliserMean = std::function<torch::Tensor(const torch::Tensor&)>;

// outputs: what the head produced for the batch the targets were built for
// (same N, A, levels). Throws std::invalid_argument on mismatched shapes.
// Every term is computed for all anchors and masked to the positives, so the
// number of positives is never needed on the host.
DetectionLoss computeLosses(const HeadOutputs& outputs, const AtssTargets& targets, const LossConfig& config = {},
                            const NormaliserMean& reduceMean = {});

}  // namespace laxray
