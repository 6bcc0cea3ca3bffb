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

// atssAssign on the anchors flagged in `valid` ([A] bool, or undefined: all);
// the others are background (mmdetection assigns the inside anchors only).
AtssAssignment assignValid(const torch::Tensor& anchors, const std::vector<int64_t>& numAnchorsPerLevel,
                           const torch::Tensor& valid, const torch::Tensor& gtBoxes, const torch::Tensor& gtLabels,
                           const AtssAssignerConfig& config) {
  if (!valid.defined() || valid.all().item<bool>()) return atssAssign(anchors, numAnchorsPerLevel, gtBoxes, gtLabels, config);
  std::vector<int64_t> validPerLevel;
  int64_t start = 0;
  for (int64_t count : numAnchorsPerLevel) {
    validPerLevel.push_back(valid.slice(0, start, start + count).sum().item<int64_t>());
    start += count;
  }
  torch::Tensor index = torch::nonzero(valid).select(1, 0);  // [A_valid]
  AtssAssignment inside = atssAssign(anchors.index_select(0, index), validPerLevel, gtBoxes, gtLabels, config);
  const int64_t numAnchors = anchors.size(0);
  AtssAssignment out;
  out.labels = torch::full({numAnchors}, -1, inside.labels.options()).index_copy_(0, index, inside.labels);
  out.matchedGt = torch::full({numAnchors}, -1, inside.matchedGt.options()).index_copy_(0, index, inside.matchedGt);
  out.maxIou = torch::zeros({numAnchors}, inside.maxIou.options()).index_copy_(0, index, inside.maxIou);
  out.thresholds = inside.thresholds;
  return out;
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

  AtssAssignerConfig assignerConfig;
  assignerConfig.topk = config.topk;
  assignerConfig.numClasses = config.numClasses;

  std::vector<torch::Tensor> valids, labels, matched, maxIou, boxTargets, deltaTargets, centerness, distances, bins;
  for (size_t i = 0; i < gtBoxes.size(); ++i) {
    torch::Tensor valid = torch::ones({numAnchors}, torch::TensorOptions().dtype(torch::kBool).device(device));
    if (!validAnchors.empty()) {
      const torch::Tensor& given = validAnchors[i];
      if (!given.defined() || given.dim() != 1 || given.size(0) != numAnchors || given.scalar_type() != torch::kBool) {
        throw std::invalid_argument("buildTargets: image " + std::to_string(i) + ": valid-anchor flags must be [" +
                                    std::to_string(numAnchors) + "] bool");
      }
      valid = given.to(device);
    }
    AtssAssignment assignment;
    try {
      assignment = assignValid(out.anchors, numAnchorsPerLevel, valid, gtBoxes[i], gtLabels[i], assignerConfig);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("image " + std::to_string(i) + ": " + e.what());
    }
    torch::Tensor positive = assignment.labels >= 0;  // [A]
    torch::Tensor positive4 = positive.unsqueeze(1).expand({numAnchors, 4});
    // Background anchors take their own box as a stand-in so every coder stays
    // finite; the stand-in values are replaced by 0 (or −1) below.
    torch::Tensor fill = out.anchors;
    if (gtBoxes[i].size(0) > 0) {
      torch::Tensor gts = gtBoxes[i].to(device, torch::kFloat);
      torch::Tensor matchedBox = gts.index_select(0, assignment.matchedGt.clamp_min(0));  // [A, 4]
      fill = torch::where(positive4, matchedBox, out.anchors);
    }
    torch::Tensor zeros4 = torch::zeros_like(fill);
    torch::Tensor dist = distanceEncode(out.anchorCenters, fill, out.anchorStrides, config.regMax);  // [A, 4]
    valids.push_back(valid);
    labels.push_back(assignment.labels);
    matched.push_back(assignment.matchedGt);
    maxIou.push_back(assignment.maxIou);
    boxTargets.push_back(torch::where(positive4, fill, zeros4));
    deltaTargets.push_back(torch::where(positive4, deltaEncode(out.anchors, fill, config.deltaCoder), zeros4));
    centerness.push_back(torch::where(positive, centernessTarget(out.anchorCenters, fill),
                                      torch::zeros({numAnchors}, fill.options())));
    distances.push_back(torch::where(positive4, dist, zeros4));
    bins.push_back(torch::where(positive4, dist.floor().to(torch::kLong).clamp(0, config.regMax - 1),
                                torch::full({numAnchors, 4}, -1, fill.options().dtype(torch::kLong))));
  }
  const auto floatOptions = torch::TensorOptions().dtype(torch::kFloat).device(device);
  const auto longOptions = torch::TensorOptions().dtype(torch::kLong).device(device);
  if (gtBoxes.empty()) {
    out.valid = torch::zeros({0, numAnchors}, longOptions.dtype(torch::kBool));
    out.labels = torch::zeros({0, numAnchors}, longOptions);
    out.matchedGt = torch::zeros({0, numAnchors}, longOptions);
    out.maxIou = torch::zeros({0, numAnchors}, floatOptions);
    out.boxTargets = torch::zeros({0, numAnchors, 4}, floatOptions);
    out.deltaTargets = torch::zeros({0, numAnchors, 4}, floatOptions);
    out.centerness = torch::zeros({0, numAnchors}, floatOptions);
    out.distanceTargets = torch::zeros({0, numAnchors, 4}, floatOptions);
    out.distanceBins = torch::zeros({0, numAnchors, 4}, longOptions);
  } else {
    out.valid = torch::stack(valids);
    out.labels = torch::stack(labels);
    out.matchedGt = torch::stack(matched);
    out.maxIou = torch::stack(maxIou);
    out.boxTargets = torch::stack(boxTargets);
    out.deltaTargets = torch::stack(deltaTargets);
    out.centerness = torch::stack(centerness);
    out.distanceTargets = torch::stack(distances);
    out.distanceBins = torch::stack(bins);
  }
  out.positive = out.labels >= 0;
  out.numPositive = out.positive.sum().item<int64_t>();
  return out;
}

std::vector<std::pair<std::string, torch::Tensor>> DetectionLoss::named() const {
  std::vector<std::pair<std::string, torch::Tensor>> out{{"cls", cls}, {"box", box}, {"quality", quality}};
  if (distribution.defined()) out.emplace_back("distribution", distribution);
  out.emplace_back("quality_floor", torch::tensor(qualityFloor));
  out.emplace_back("total", total);
  return out;
}

DetectionLoss computeLosses(const HeadOutputs& outputs, const AtssTargets& targets, const LossConfig& config,
                            const NormaliserMean& reduceMean) {
  const torch::Tensor& cls = outputs.clsLogits;         // [N, A, C]
  const torch::Tensor& reg = outputs.boxRegression;     // [N, A, 4] or [N, A, 4, regMax + 1]
  const torch::Tensor& quality = outputs.qualityLogits; // [N, A]
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
  loss.numPositive = targets.numPositive;
  torch::Tensor positive = targets.positive.to(cls.device());  // [N, A]

  // The positives' decoded boxes and quality targets first: the box loss's normaliser is their sum.
  torch::Tensor posFlat, gtBox, posQuality, predBox, posLogits;
  torch::Tensor weight;  // [P] the quality target, detached: it weights the box and bin losses too
  if (targets.numPositive > 0) {
    posFlat = torch::nonzero(positive.reshape({-1})).select(1, 0);                           // [P] index into N·A
    torch::Tensor anchorIdx = posFlat.remainder(a);                                          // [P]
    torch::Tensor posAnchors = targets.anchors.to(cls.device()).index_select(0, anchorIdx);  // [P, 4]
    gtBox = targets.boxTargets.to(cls.device()).reshape({-1, 4}).index_select(0, posFlat);   // [P, 4]
    posQuality = quality.reshape({-1}).index_select(0, posFlat);                             // [P]
    if (!distribution) {
      torch::Tensor posDeltas = reg.reshape({-1, 4}).index_select(0, posFlat);  // [P, 4]
      predBox = deltaDecode(posAnchors, posDeltas, config.deltaCoder);
    } else {
      const int64_t bins = outputs.regMax + 1;
      posLogits = reg.reshape({-1, 4, bins}).index_select(0, posFlat);  // [P, 4, regMax + 1]
      torch::Tensor centres = targets.anchorCenters.to(cls.device()).index_select(0, anchorIdx);  // [P, 2]
      torch::Tensor stride = targets.anchorStrides.to(cls.device()).index_select(0, anchorIdx);   // [P]
      torch::Tensor distances = distributionIntegral(posLogits) * stride.unsqueeze(1);            // [P, 4] px
      predBox = distanceDecode(centres, distances);
    }
    weight = outputs.qualityTarget == QualityTarget::Iou
                 ? alignedBoxIou(predBox.detach(), gtBox).clamp_min(0)
                 : targets.centerness.to(cls.device()).reshape({-1}).index_select(0, posFlat);
    weight = weight.detach().to(predBox.scalar_type());
    loss.qualityWeightSum = weight.sum().item<double>();
  }
  // mmdetection's num_total_samples: Σ over images of max(positives, 1); then
  // both normalisers are averaged over data-parallel processes (its
  // reduce_mean; every process takes part, with or without positives).
  std::vector<double> normalisers{positive.sum(1).clamp_min(1).sum().item<double>(), loss.qualityWeightSum};
  if (reduceMean) normalisers = reduceMean(normalisers);
  const double numPosNorm = std::max(normalisers.at(0), 1.0);
  const double weightNorm = normalisers.at(1) < kWeightSumEps ? 1.0 : normalisers.at(1);

  // Classification over the valid anchors: one-hot of the assigned class, zeros for background.
  torch::Tensor clsTargets = torch::one_hot(targets.labels.to(cls.device()).clamp_min(0), numClasses)
                                 .to(cls.scalar_type()) *
                             positive.unsqueeze(-1).to(cls.scalar_type());  // [N, A, C]
  torch::Tensor valid = targets.valid.defined() ? targets.valid.to(cls.device()).unsqueeze(-1).to(cls.scalar_type())
                                                : torch::ones({n, a, 1}, cls.options());  // [N, A, 1]
  loss.cls = config.clsWeight *
             (sigmoidFocalLoss(cls, clsTargets, config.focalAlpha, config.focalGamma, Reduction::None) * valid).sum() /
             numPosNorm;

  if (targets.numPositive == 0) {
    // Zero positives: box and quality losses are zeros that still belong to the graph.
    loss.box = reg.sum() * 0.0;
    loss.quality = quality.sum() * 0.0;
    if (distribution) loss.distribution = reg.sum() * 0.0;
  } else {
    loss.box = config.boxWeight * (giouLoss(predBox, gtBox) * weight).sum() / weightNorm;
    loss.quality = config.qualityWeight *
                   torch::binary_cross_entropy_with_logits(posQuality, weight, {}, {}, at::Reduction::Sum) /
                   numPosNorm;
    loss.qualityFloor = config.qualityWeight * bernoulliEntropy(weight).sum().item<double>() / numPosNorm;
    if (distribution) {
      torch::Tensor bins = targets.distanceBins.to(cls.device()).reshape({-1, 4}).index_select(0, posFlat);  // [P, 4]
      torch::Tensor oneHot = torch::one_hot(bins.clamp(0, outputs.regMax), outputs.regMax + 1)
                                 .to(posLogits.scalar_type());  // [P, 4, regMax + 1]
      torch::Tensor perSide =
          sigmoidFocalLoss(posLogits, oneHot, config.focalAlpha, config.focalGamma, Reduction::None).sum(-1);  // [P, 4]
      loss.distribution =
          config.distributionLossWeight * (perSide * weight.unsqueeze(1)).sum() / 4.0 / weightNorm;
    }
  }
  loss.total = loss.cls + loss.box + loss.quality;
  if (distribution) loss.total = loss.total + loss.distribution;
  return loss;
}

}  // namespace laxray
