#include "losses.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "anchors.h"
#include "assigner.h"
#include "box_ops.h"
#include "tensor_io.h"

namespace laxray {
namespace {

constexpr double kWeightSumEps = 1e-12;  // the authors' EPS for the box / bin normaliser

struct PaddedGroundTruth {
  torch::Tensor boxes;    // [N, G, 4] float
  torch::Tensor labels;   // [N, G] int64
  torch::Tensor present;  // [N, G] bool: false for padding
};

// The images' gts padded to the most in the batch, built where they are
// (the host in training) and moved to `device` in one copy each.
PaddedGroundTruth padGroundTruth(const std::vector<torch::Tensor>& gtBoxes, const std::vector<torch::Tensor>& gtLabels,
                                 const torch::Device& device) {
  const int64_t n = static_cast<int64_t>(gtBoxes.size());
  int64_t g = 0;
  for (const torch::Tensor& b : gtBoxes) g = std::max(g, b.size(0));
  const torch::Device source = n > 0 ? gtBoxes[0].device() : device;
  const auto options = torch::TensorOptions().device(source);
  PaddedGroundTruth out{torch::zeros({n, g, 4}, options.dtype(torch::kFloat)), torch::zeros({n, g}, options.dtype(torch::kLong)),
                        torch::zeros({n, g}, options.dtype(torch::kBool))};
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = gtBoxes[static_cast<size_t>(i)].size(0);
    if (k == 0) continue;
    out.boxes[i].slice(0, 0, k).copy_(gtBoxes[static_cast<size_t>(i)].to(source, torch::kFloat));
    out.labels[i].slice(0, 0, k).copy_(gtLabels[static_cast<size_t>(i)].to(source, torch::kLong));
    out.present[i].slice(0, 0, k).fill_(true);
  }
  return {toDevice(out.boxes, device), toDevice(out.labels, device), toDevice(out.present, device)};
}

// Entropy of Bernoulli(t) in nats, 0·log 0 = 0: the least BCE against t can be.
torch::Tensor bernoulliEntropy(const torch::Tensor& t) {
  return torch::special::entr(t) + torch::special::entr(1 - t);
}

}  // namespace

Reduction reductionFromString(const std::string& name) {
  if (name == "none") return Reduction::None;
  if (name == "sum") return Reduction::Sum;
  if (name == "mean") return Reduction::Mean;
  throw std::invalid_argument("reduction must be 'none', 'sum' or 'mean', got '" + name + "'");
}

torch::Tensor sigmoidFocalLoss(const torch::Tensor& logits, const torch::Tensor& targets, double alpha, double gamma,
                               Reduction reduction) {
  if (!logits.defined() || !targets.defined() || logits.sizes() != targets.sizes()) {
    throw std::invalid_argument(
        "sigmoidFocalLoss: logits and targets must have the same shape, got logits " +
        (logits.defined() ? shapeString(logits.sizes()) : std::string("none")) + " and targets " +
        (targets.defined() ? shapeString(targets.sizes()) : std::string("none")));
  }
  if (!std::isfinite(gamma) || gamma < 0) {
    throw std::invalid_argument("sigmoidFocalLoss: gamma must be a finite number >= 0, got " + std::to_string(gamma));
  }
  if (!std::isfinite(alpha) || alpha > 1) {
    throw std::invalid_argument("sigmoidFocalLoss: alpha must be <= 1 (negative: no α weighting), got " +
                                std::to_string(alpha));
  }
  torch::Tensor t = targets.to(logits.scalar_type());
  torch::Tensor p = torch::sigmoid(logits);
  torch::Tensor ce = torch::binary_cross_entropy_with_logits(logits, t, {}, {}, at::Reduction::None);
  torch::Tensor pT = p * t + (1 - p) * (1 - t);
  torch::Tensor loss = ce * (1 - pT).pow(gamma);
  if (alpha >= 0) loss = loss * (alpha * t + (1 - alpha) * (1 - t));
  switch (reduction) {
    case Reduction::Sum: return loss.sum();
    case Reduction::Mean: return loss.mean();
    case Reduction::None: break;
  }
  return loss;
}

torch::Tensor giouLoss(const torch::Tensor& pred, const torch::Tensor& target) {
  return 1 - alignedGeneralizedBoxIou(pred, target);
}

AtssTargets buildTargets(const torch::Tensor& anchors, const std::vector<int64_t>& numAnchorsPerLevel,
                         const std::vector<int64_t>& strides, const std::vector<torch::Tensor>& gtBoxes,
                         const std::vector<torch::Tensor>& gtLabels, const AtssTargetConfig& config,
                         const std::vector<torch::Tensor>& validAnchors) {
  if (gtBoxes.size() != gtLabels.size()) {
    throw std::invalid_argument("buildTargets: " + std::to_string(gtBoxes.size()) + " images of gt boxes but " +
                                std::to_string(gtLabels.size()) + " of gt labels");
  }
  if (!validAnchors.empty() && validAnchors.size() != gtBoxes.size()) {
    throw std::invalid_argument("buildTargets: valid-anchor flags for " + std::to_string(validAnchors.size()) +
                                " images but gt for " + std::to_string(gtBoxes.size()));
  }
  if (config.regMax < 1) throw std::invalid_argument("buildTargets: regMax must be >= 1");
  const torch::Device device = anchors.device();
  AtssTargets out;
  out.anchors = anchors.to(torch::kFloat);
  out.anchorCenters = anchorCenters(out.anchors);                          // [A, 2]
  out.anchorStrides = anchorStrides(numAnchorsPerLevel, strides, device);  // [A]
  out.numAnchorsPerLevel = numAnchorsPerLevel;
  out.strides = strides;
  out.numClasses = config.numClasses;
  out.regMax = config.regMax;
  const int64_t numAnchors = anchors.size(0);

  const int64_t n = static_cast<int64_t>(gtBoxes.size());
  for (size_t i = 0; i < gtBoxes.size(); ++i) {
    if (!gtBoxes[i].device().is_cpu() || !gtLabels[i].device().is_cpu()) continue;  // checked only where it costs no sync
    try {
      checkAssignerInputs(gtBoxes[i], gtLabels[i], config.numClasses);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("image " + std::to_string(i) + ": " + e.what());
    }
  }
  torch::Tensor valid = torch::ones({n, numAnchors}, torch::TensorOptions().dtype(torch::kBool).device(device));  // [N, A]
  if (!validAnchors.empty()) {
    for (size_t i = 0; i < validAnchors.size(); ++i) {
      const torch::Tensor& given = validAnchors[i];
      if (!given.defined() || given.dim() != 1 || given.size(0) != numAnchors || given.scalar_type() != torch::kBool) {
        throw std::invalid_argument("buildTargets: image " + std::to_string(i) + ": valid-anchor flags must be [" +
                                    std::to_string(numAnchors) + "] bool");
      }
    }
    valid = n > 0 ? torch::stack(validAnchors).to(device) : valid;
  }
  PaddedGroundTruth gt = padGroundTruth(gtBoxes, gtLabels, device);
  AtssBatchAssignment assignment =
      atssAssignBatch(out.anchors, numAnchorsPerLevel, gt.boxes, gt.labels, gt.present, valid, config.topk);

  torch::Tensor positive = assignment.labels >= 0;                // [N, A]
  torch::Tensor positive4 = positive.unsqueeze(2).expand({n, numAnchors, 4});
  // Background anchors take their own box as a stand-in so every coder stays
  // finite; the stand-in values are replaced by 0 (or −1) below.
  torch::Tensor anchors4 = out.anchors.unsqueeze(0).expand({n, numAnchors, 4});
  torch::Tensor matchedBox = gt.boxes.size(1) > 0
                                 ? gt.boxes.gather(1, assignment.matchedGt.clamp_min(0).unsqueeze(2).expand({n, numAnchors, 4}))
                                 : anchors4;
  torch::Tensor fill = torch::where(positive4, matchedBox, anchors4).reshape({-1, 4});  // [N·A, 4]
  torch::Tensor flatAnchors = anchors4.reshape({-1, 4});
  torch::Tensor flatCentres = out.anchorCenters.unsqueeze(0).expand({n, numAnchors, 2}).reshape({-1, 2});
  torch::Tensor flatStrides = out.anchorStrides.unsqueeze(0).expand({n, numAnchors}).reshape({-1});
  torch::Tensor zeros4 = torch::zeros({n, numAnchors, 4}, fill.options());
  torch::Tensor dist = distanceEncode(flatCentres, fill, flatStrides, config.regMax).view({n, numAnchors, 4});
  fill = fill.view({n, numAnchors, 4});
  out.valid = valid;
  out.labels = assignment.labels;
  out.matchedGt = assignment.matchedGt;
  out.maxIou = assignment.maxIou;
  out.boxTargets = torch::where(positive4, fill, zeros4);
  out.deltaTargets =
      torch::where(positive4, deltaEncode(flatAnchors, fill.reshape({-1, 4}), config.deltaCoder).view({n, numAnchors, 4}), zeros4);
  out.centerness = torch::where(positive, centernessTarget(flatCentres, fill.reshape({-1, 4})).view({n, numAnchors}),
                                torch::zeros({n, numAnchors}, fill.options()));
  out.distanceTargets = torch::where(positive4, dist, zeros4);
  out.distanceBins = torch::where(positive4, dist.floor().to(torch::kLong).clamp(0, config.regMax - 1),
                                  torch::full({n, numAnchors, 4}, -1, fill.options().dtype(torch::kLong)));
  out.positive = positive;
  out.numPositive = positive.sum();
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> DetectionLoss::named() const {
  std::vector<std::pair<std::string, torch::Tensor>> out{{"cls", cls}, {"box", box}, {"quality", quality}};
  if (distribution.defined()) out.emplace_back("distribution", distribution);
  out.emplace_back("quality_floor", qualityFloor);
  out.emplace_back("total", total);
  return out;
}

DetectionLoss computeLosses(const HeadOutputs& outputs, const AtssTargets& targets, const LossConfig& config,
                            const NormaliserMean& reduceMean) {
  // In float32 whatever precision the head ran in.
  const torch::Tensor cls = outputs.clsLogits.defined() ? outputs.clsLogits.to(torch::kFloat) : torch::Tensor();  // [N, A, C]
  const torch::Tensor reg = outputs.boxRegression.defined() ? outputs.boxRegression.to(torch::kFloat) : torch::Tensor();  // [N, A, 4] or [N, A, 4, regMax + 1]
  const torch::Tensor quality = outputs.qualityLogits.defined() ? outputs.qualityLogits.to(torch::kFloat) : torch::Tensor();  // [N, A]
  const bool distribution = outputs.regression == RegressionKind::Distribution;
  const int64_t n = targets.labels.size(0);
  const int64_t a = targets.labels.size(1);
  if (!cls.defined() || cls.dim() != 3 || cls.size(0) != n || cls.size(1) != a) {
    throw std::invalid_argument("computeLosses: clsLogits must be [N, A, C] = [" + std::to_string(n) + ", " +
                                std::to_string(a) + ", C] to match the targets, got " +
                                (cls.defined() ? shapeString(cls.sizes()) : std::string("none")));
  }
  const int64_t numClasses = cls.size(2);
  if (targets.numClasses > 0 && targets.numClasses != numClasses) {
    throw std::invalid_argument("computeLosses: the head predicts " + std::to_string(numClasses) +
                                " classes but the targets were built for " + std::to_string(targets.numClasses));
  }
  const std::vector<int64_t> regShape =
      distribution ? std::vector<int64_t>{n, a, 4, outputs.regMax + 1} : std::vector<int64_t>{n, a, 4};
  if (!reg.defined() || reg.sizes() != at::IntArrayRef(regShape)) {
    throw std::invalid_argument("computeLosses: boxRegression must be " + shapeString(regShape) + ", got " +
                                (reg.defined() ? shapeString(reg.sizes()) : std::string("none")));
  }
  if (!quality.defined() || quality.dim() != 2 || quality.size(0) != n || quality.size(1) != a) {
    throw std::invalid_argument("computeLosses: qualityLogits must be [" + std::to_string(n) + ", " +
                                std::to_string(a) + "], got " +
                                (quality.defined() ? shapeString(quality.sizes()) : std::string("none")));
  }
  if (outputs.numAnchorsPerLevel != targets.numAnchorsPerLevel) {
    throw std::invalid_argument("computeLosses: the head's anchors per level differ from the targets'");
  }
  if (distribution && outputs.regMax != targets.regMax) {
    throw std::invalid_argument("computeLosses: the head has regMax " + std::to_string(outputs.regMax) +
                                " but the targets were built with " + std::to_string(targets.regMax));
  }

  DetectionLoss loss;
  const torch::Device device = cls.device();
  torch::Tensor positive = targets.positive.to(device);  // [N, A]
  loss.numPositive = positive.sum();
  // Σ of a per-anchor term [N, A, ...] over the positives.
  auto onPositives = [&](const torch::Tensor& perAnchor) {
    torch::Tensor mask = positive;
    while (mask.dim() < perAnchor.dim()) mask = mask.unsqueeze(-1);
    return torch::where(mask, perAnchor, torch::zeros_like(perAnchor)).sum();
  };

  // Every anchor's decoded box and quality target, masked to the positives below.
  torch::Tensor gtBox = targets.boxTargets.to(device);  // [N, A, 4]
  torch::Tensor predBox;                                // [N, A, 4]
  if (!distribution) {
    torch::Tensor anchors = targets.anchors.to(device).unsqueeze(0).expand({n, a, 4}).reshape({-1, 4});
    predBox = deltaDecode(anchors, reg.reshape({-1, 4}), config.deltaCoder).view({n, a, 4});
  } else {
    torch::Tensor centres = targets.anchorCenters.to(device).unsqueeze(0).expand({n, a, 2}).reshape({-1, 2});
    torch::Tensor stride = targets.anchorStrides.to(device).view({1, a, 1});
    torch::Tensor distances = distributionIntegral(reg) * stride;  // [N, A, 4] px
    predBox = distanceDecode(centres, distances.reshape({-1, 4})).view({n, a, 4});
  }
  // [N, A] the quality target, detached: it weights the box and bin losses too
  torch::Tensor weight = outputs.qualityTarget == QualityTarget::Iou
                             ? alignedBoxIou(predBox.detach().reshape({-1, 4}), gtBox.reshape({-1, 4})).clamp_min(0).view({n, a})
                             : targets.centerness.to(device);
  weight = torch::where(positive, weight.detach().to(predBox.scalar_type()), torch::zeros_like(weight));
  loss.qualityWeightSum = weight.sum();
  // mmdetection's num_total_samples: Σ over images of max(positives, 1); then
  // both normalisers are averaged over data-parallel processes (its
  // reduce_mean; every process takes part, with or without positives).
  torch::Tensor normalisers = torch::stack({positive.sum(1).clamp_min(1).sum().to(torch::kFloat), loss.qualityWeightSum.to(torch::kFloat)});
  if (reduceMean) normalisers = reduceMean(normalisers);
  torch::Tensor numPosNorm = normalisers[0].clamp_min(1.0);
  torch::Tensor weightNorm = torch::where(normalisers[1] < kWeightSumEps, torch::ones_like(normalisers[1]), normalisers[1]);

  // Classification over the valid anchors: one-hot of the assigned class, zeros for background.
  torch::Tensor clsTargets = torch::one_hot(targets.labels.to(device).clamp_min(0), numClasses)
                                 .to(cls.scalar_type()) *
                             positive.unsqueeze(-1).to(cls.scalar_type());  // [N, A, C]
  torch::Tensor valid = targets.valid.defined() ? targets.valid.to(device).unsqueeze(-1).to(cls.scalar_type())
                                                : torch::ones({n, a, 1}, cls.options());  // [N, A, 1]
  loss.cls = config.clsWeight *
             (sigmoidFocalLoss(cls, clsTargets, config.focalAlpha, config.focalGamma, Reduction::None) * valid).sum() /
             numPosNorm;
  // Without positives these are zeros that still belong to the graph.
  loss.box = config.boxWeight *
             onPositives((giouLoss(predBox.reshape({-1, 4}), gtBox.reshape({-1, 4})).view({n, a}) * weight)) / weightNorm;
  loss.quality = config.qualityWeight *
                 onPositives(torch::binary_cross_entropy_with_logits(quality, weight, {}, {}, at::Reduction::None)) / numPosNorm;
  loss.qualityFloor = (config.qualityWeight * onPositives(bernoulliEntropy(weight)) / numPosNorm).detach();
  if (distribution) {
    torch::Tensor bins = targets.distanceBins.to(device);  // [N, A, 4]
    torch::Tensor oneHot = torch::one_hot(bins.clamp(0, outputs.regMax), outputs.regMax + 1).to(reg.scalar_type());  // [N, A, 4, R + 1]
    torch::Tensor perSide = sigmoidFocalLoss(reg, oneHot, config.focalAlpha, config.focalGamma, Reduction::None).sum(-1);  // [N, A, 4]
    loss.distribution = config.distributionLossWeight * onPositives(perSide * weight.unsqueeze(-1)) / 4.0 / weightNorm;
  }
  loss.total = loss.cls + loss.box + loss.quality;
  if (distribution) loss.total = loss.total + loss.distribution;
  return loss;
}

}  // namespace laxray
