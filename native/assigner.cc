#include "assigner.h"

#include <limits>
#include <stdexcept>
#include <string>

#include "anchors.h"
#include "box_ops.h"
#include "tensor_io.h"

namespace laxray {
namespace {

void checkLabels(const torch::Tensor& gtLabels, int64_t count, int64_t numClasses) {
  if (!gtLabels.defined() || gtLabels.dim() != 1 || gtLabels.size(0) != count) {
    throw std::invalid_argument("atssAssign: gtLabels must hold one class id per gt box (" + std::to_string(count) +
                                "), got shape " +
                                (gtLabels.defined() ? shapeString(gtLabels.sizes()) : std::string("none")));
  }
  if (gtLabels.is_floating_point() || gtLabels.scalar_type() == torch::kBool) {
    throw std::invalid_argument("atssAssign: gtLabels must be integers, got " + dtypeName(gtLabels.scalar_type()));
  }
  if (count == 0) return;
  torch::Tensor bad = gtLabels < 0;
  if (numClasses > 0) bad = bad | (gtLabels >= numClasses);
  if (bad.any().item<bool>()) {
    const int64_t row = torch::nonzero(bad).select(1, 0)[0].item<int64_t>();
    const std::string range = numClasses > 0 ? "[0, " + std::to_string(numClasses) + ")" : ">= 0";
    throw std::invalid_argument("atssAssign: gtLabels[" + std::to_string(row) + "] = " +
                                std::to_string(gtLabels[row].item<int64_t>()) + " is not a class id " + range);
  }
}

}  // namespace

void checkAssignerInputs(const torch::Tensor& gtBoxes, const torch::Tensor& gtLabels, int64_t numClasses) {
  checkBoxes(gtBoxes, "atssAssign: gtBoxes");
  checkLabels(gtLabels, gtBoxes.size(0), numClasses);
}

AtssAssignment atssAssign(const torch::Tensor& anchors, const std::vector<int64_t>& numAnchorsPerLevel,
                          const torch::Tensor& gtBoxes, const torch::Tensor& gtLabels,
                          const AtssAssignerConfig& config) {
  checkBoxes(anchors, "atssAssign: anchors");
  checkBoxes(gtBoxes, "atssAssign: gtBoxes");
  const int64_t numAnchors = anchors.size(0);
  const int64_t numGt = gtBoxes.size(0);
  int64_t total = 0;
  for (size_t l = 0; l < numAnchorsPerLevel.size(); ++l) {
    if (numAnchorsPerLevel[l] < 0) {
      throw std::invalid_argument("atssAssign: numAnchorsPerLevel[" + std::to_string(l) + "] is negative");
    }
    total += numAnchorsPerLevel[l];
  }
  if (total != numAnchors) {
    throw std::invalid_argument("atssAssign: numAnchorsPerLevel sums to " + std::to_string(total) + " but there are " +
                                std::to_string(numAnchors) + " anchors");
  }
  if (config.topk <= 0) {
    throw std::invalid_argument("atssAssign: topk must be >= 1, got " + std::to_string(config.topk));
  }
  checkLabels(gtLabels, numGt, config.numClasses);

  const auto longOptions = torch::TensorOptions().dtype(torch::kLong).device(anchors.device());
  const auto floatOptions = torch::TensorOptions().dtype(torch::kFloat).device(anchors.device());
  AtssAssignment out;
  if (numGt == 0 || numAnchors == 0) {
    out.labels = torch::full({numAnchors}, -1, longOptions);
    out.matchedGt = torch::full({numAnchors}, -1, longOptions);
    out.maxIou = torch::zeros({numAnchors}, floatOptions);
    out.thresholds = torch::zeros({numGt}, floatOptions);
    return out;
  }

  torch::Tensor boxes = anchors.to(torch::kFloat);
  torch::Tensor gts = gtBoxes.to(boxes.device(), torch::kFloat);
  torch::Tensor labels = gtLabels.to(boxes.device(), torch::kLong);
  torch::Tensor overlaps = boxIouUnchecked(boxes, gts);  // [A, G]
  torch::Tensor anchorCentre = anchorCenters(boxes);     // [A, 2]
  torch::Tensor gtCentre = anchorCenters(gts);           // [G, 2]
  torch::Tensor distances =
      (anchorCentre.unsqueeze(1) - gtCentre.unsqueeze(0)).pow(2).sum(-1).sqrt();  // [A, G]

  // Candidates: per level, the topk closest anchor centres (stable: on equal
  // distance the earlier anchor wins, so the result does not depend on the sort).
  std::vector<torch::Tensor> candidates;
  int64_t start = 0;
  for (int64_t count : numAnchorsPerLevel) {
    if (count == 0) continue;
    const int64_t k = std::min(config.topk, count);
    torch::Tensor order = std::get<1>(distances.slice(0, start, start + count)
                                          .sort(/*stable=*/true, /*dim=*/0, /*descending=*/false));  // [count, G]
    candidates.push_back(order.slice(0, 0, k) + start);                                              // [k, G]
    start += count;
  }
  torch::Tensor candidateIdx = torch::cat(candidates, 0);                // [K, G]
  torch::Tensor candidateIou = overlaps.gather(0, candidateIdx);         // [K, G]
  torch::Tensor mean = candidateIou.mean(0);                             // [G]
  // Unbiased std (torch.std's default, as mmdet); a single candidate has no spread.
  const int64_t numCandidates = candidateIou.size(0);
  torch::Tensor std = numCandidates > 1
                          ? ((candidateIou - mean.unsqueeze(0)).pow(2).sum(0) / double(numCandidates - 1)).sqrt()
                          : torch::zeros_like(mean);
  torch::Tensor threshold = mean + std;                                   // [G]
  torch::Tensor isPositive = candidateIou >= threshold.unsqueeze(0);     // [K, G]

  // Centre strictly inside the gt box (mmdet: min(l, t, r, b) > 0.01).
  torch::Tensor cx = anchorCentre.select(1, 0).index_select(0, candidateIdx.reshape({-1})).view_as(candidateIdx);
  torch::Tensor cy = anchorCentre.select(1, 1).index_select(0, candidateIdx.reshape({-1})).view_as(candidateIdx);
  torch::Tensor l = cx - gts.select(1, 0).unsqueeze(0);
  torch::Tensor t = cy - gts.select(1, 1).unsqueeze(0);
  torch::Tensor r = gts.select(1, 2).unsqueeze(0) - cx;
  torch::Tensor b = gts.select(1, 3).unsqueeze(0) - cy;
  torch::Tensor inside = torch::stack({l, t, r, b}, 0).amin(0) > 0.01;  // [K, G]
  isPositive = isPositive & inside;

  // An anchor positive for several gts goes to the one with the highest IoU.
  torch::Tensor positiveMask = torch::zeros({numAnchors, numGt}, floatOptions)
                                   .scatter_(0, candidateIdx, isPositive.to(torch::kFloat)) > 0;  // [A, G]
  const double negInf = -std::numeric_limits<double>::infinity();
  torch::Tensor masked = torch::where(positiveMask, overlaps, torch::full_like(overlaps, negInf));
  auto [bestIou, bestGt] = masked.max(1);  // [A], [A]
  torch::Tensor assigned = bestIou > negInf;

  out.matchedGt = torch::where(assigned, bestGt, torch::full_like(bestGt, -1));
  out.labels = torch::where(assigned, labels.index_select(0, bestGt), torch::full_like(bestGt, -1));
  out.maxIou = torch::where(assigned, bestIou, std::get<0>(overlaps.max(1)));
  out.thresholds = threshold;
  return out;
}

AtssBatchAssignment atssAssignBatch(const torch::Tensor& anchors, const std::vector<int64_t>& numAnchorsPerLevel,
                                    const torch::Tensor& gtBoxes, const torch::Tensor& gtLabels,
                                    const torch::Tensor& gtPresent, const torch::Tensor& valid, int64_t topk) {
  const int64_t n = gtBoxes.size(0), g = gtBoxes.size(1), numAnchors = anchors.size(0);
  const torch::Device device = anchors.device();
  const auto longOptions = torch::TensorOptions().dtype(torch::kLong).device(device);
  AtssBatchAssignment out;
  if (g == 0 || numAnchors == 0) {
    out.labels = torch::full({n, numAnchors}, -1, longOptions);
    out.matchedGt = torch::full({n, numAnchors}, -1, longOptions);
    out.maxIou = torch::zeros({n, numAnchors}, longOptions.dtype(torch::kFloat));
    return out;
  }
  torch::Tensor boxes = anchors.to(torch::kFloat);                              // [A, 4]
  torch::Tensor gts = gtBoxes.to(device, torch::kFloat);                        // [N, G, 4]
  torch::Tensor present = gtPresent.to(device, torch::kBool);                   // [N, G]
  torch::Tensor inside = valid.defined() ? valid.to(device, torch::kBool)       // [N, A]
                                         : torch::ones({n, numAnchors}, longOptions.dtype(torch::kBool));
  // IoU of every anchor with every gt of its image: [N, A, G] (padding gts: 0).
  torch::Tensor overlaps = boxIouUnchecked(boxes, gts.reshape({-1, 4})).view({numAnchors, n, g}).permute({1, 0, 2});
  overlaps = overlaps * present.unsqueeze(1);
  torch::Tensor anchorCentre = anchorCenters(boxes);                                    // [A, 2]
  torch::Tensor gtCentre = anchorCenters(gts.reshape({-1, 4})).view({n, 1, g, 2});      // [N, 1, G, 2]
  torch::Tensor distances = (anchorCentre.view({1, numAnchors, 1, 2}) - gtCentre).pow(2).sum(-1).sqrt();  // [N, A, G]
  // Invalid anchors are never candidates: they sort last (a stable sort keeps the rest in atssAssign's order).
  distances = distances.masked_fill(~inside.unsqueeze(2), std::numeric_limits<float>::infinity());

  std::vector<torch::Tensor> candidates;
  int64_t start = 0;
  for (int64_t count : numAnchorsPerLevel) {
    if (count == 0) continue;
    const int64_t k = std::min(topk, count);
    torch::Tensor order = std::get<1>(distances.slice(1, start, start + count)
                                          .sort(/*stable=*/true, /*dim=*/1, /*descending=*/false));  // [N, count, G]
    candidates.push_back(order.slice(1, 0, k) + start);                                              // [N, k, G]
    start += count;
  }
  torch::Tensor candidateIdx = torch::cat(candidates, 1);                      // [N, K, G]
  torch::Tensor isCandidate = inside.unsqueeze(2).expand({n, numAnchors, g}).gather(1, candidateIdx);  // [N, K, G]
  torch::Tensor candidateIou = overlaps.gather(1, candidateIdx) * isCandidate;  // [N, K, G] (0 where not a candidate)
  torch::Tensor count = isCandidate.sum(1);                                     // [N, G]
  torch::Tensor mean = candidateIou.sum(1) / count.clamp_min(1);                // [N, G]
  // Unbiased std (torch.std's default, as mmdet); a single candidate has no spread.
  torch::Tensor deviation = (candidateIou - mean.unsqueeze(1)) * isCandidate;
  torch::Tensor std = torch::where(count > 1, (deviation.pow(2).sum(1) / (count - 1).clamp_min(1)).sqrt(),
                                   torch::zeros_like(mean));
  torch::Tensor threshold = mean + std;                                         // [N, G]
  torch::Tensor isPositive = isCandidate & (candidateIou >= threshold.unsqueeze(1)) & present.unsqueeze(1);

  // Centre strictly inside the gt box (mmdet: min(l, t, r, b) > 0.01).
  torch::Tensor flatIdx = candidateIdx.reshape({-1});
  torch::Tensor cx = anchorCentre.select(1, 0).index_select(0, flatIdx).view_as(candidateIdx);
  torch::Tensor cy = anchorCentre.select(1, 1).index_select(0, flatIdx).view_as(candidateIdx);
  torch::Tensor l = cx - gts.select(2, 0).unsqueeze(1);
  torch::Tensor t = cy - gts.select(2, 1).unsqueeze(1);
  torch::Tensor r = gts.select(2, 2).unsqueeze(1) - cx;
  torch::Tensor b = gts.select(2, 3).unsqueeze(1) - cy;
  isPositive = isPositive & (torch::stack({l, t, r, b}, 0).amin(0) > 0.01);  // [N, K, G]

  // An anchor positive for several gts goes to the one with the highest IoU.
  torch::Tensor positiveMask = torch::zeros({n, numAnchors, g}, longOptions.dtype(torch::kFloat))
                                   .scatter_(1, candidateIdx, isPositive.to(torch::kFloat)) > 0;  // [N, A, G]
  const double negInf = -std::numeric_limits<double>::infinity();
  torch::Tensor masked = torch::where(positiveMask, overlaps, torch::full_like(overlaps, negInf));
  auto [bestIou, bestGt] = masked.max(2);  // [N, A]
  torch::Tensor assigned = bestIou > negInf;
  out.matchedGt = torch::where(assigned, bestGt, torch::full_like(bestGt, -1));
  out.labels = torch::where(assigned, gtLabels.to(device, torch::kLong).gather(1, bestGt), torch::full_like(bestGt, -1));
  out.maxIou = torch::where(assigned, bestIou, std::get<0>(overlaps.max(2)) * inside);
  return out;
}

}  // namespace laxray
