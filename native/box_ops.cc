#include "box_ops.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "tensor_io.h"

namespace laxray {
namespace {

std::string rowString(const torch::Tensor& row) {
  std::ostringstream out;
  out << "[";
  auto values = row.to(torch::kCPU, torch::kDouble).contiguous();
  const double* v = values.data_ptr<double>();
  for (int64_t i = 0; i < values.numel(); ++i) out << (i ? ", " : "") << v[i];
  out << "]";
  return out.str();
}

void checkShape(const torch::Tensor& boxes, const std::string& name) {
  if (!boxes.defined() || boxes.dim() != 2 || boxes.size(1) != 4) {
    throw std::invalid_argument(name + ": expected boxes of shape [K, 4] (x1, y1, x2, y2 per row), got " +
                                (boxes.defined() ? shapeString(boxes.sizes()) : std::string("no tensor")));
  }
  if (!boxes.is_floating_point()) {
    throw std::invalid_argument(name + ": boxes must be floating point, got " + dtypeName(boxes.scalar_type()));
  }
}

void checkScores(const torch::Tensor& scores, int64_t count, const std::string& name) {
  if (!scores.defined() || scores.dim() != 1 || scores.size(0) != count) {
    throw std::invalid_argument(name + ": expected " + std::to_string(count) + " scores (one per box), got shape " +
                                (scores.defined() ? shapeString(scores.sizes()) : std::string("none")));
  }
  if (count > 0 && !torch::isfinite(scores).all().item<bool>()) {
    const int64_t row = torch::nonzero(~torch::isfinite(scores)).select(1, 0)[0].item<int64_t>();
    throw std::invalid_argument(name + ": score " + std::to_string(row) + " is not finite");
  }
}

// a: [N, 4], b: [M, 4] -> inter [N, M], union [N, M]
std::pair<torch::Tensor, torch::Tensor> interUnion(const torch::Tensor& a, const torch::Tensor& b) {
  torch::Tensor areaA = boxArea(a);  // [N]
  torch::Tensor areaB = boxArea(b);  // [M]
  torch::Tensor lt = torch::max(a.slice(1, 0, 2).unsqueeze(1), b.slice(1, 0, 2).unsqueeze(0));  // [N, M, 2]
  torch::Tensor rb = torch::min(a.slice(1, 2, 4).unsqueeze(1), b.slice(1, 2, 4).unsqueeze(0));  // [N, M, 2]
  torch::Tensor wh = (rb - lt).clamp_min(0);
  torch::Tensor inter = wh.select(2, 0) * wh.select(2, 1);
  torch::Tensor uni = areaA.unsqueeze(1) + areaB.unsqueeze(0) - inter;
  return {inter, uni};
}

// IoU where an empty union gives 0 instead of 0/0.
torch::Tensor safeDivide(const torch::Tensor& num, const torch::Tensor& den) {
  return torch::where(den > 0, num / den.clamp_min(1e-12), torch::zeros_like(num));
}

}  // namespace

void checkBoxes(const torch::Tensor& boxes, const std::string& name) {
  checkShape(boxes, name);
  if (boxes.size(0) == 0) return;
  torch::Tensor finite = torch::isfinite(boxes).all(1);                     // [K]
  torch::Tensor ordered = (boxes.select(1, 2) >= boxes.select(1, 0)) &
                          (boxes.select(1, 3) >= boxes.select(1, 1));       // [K] (false for NaN)
  torch::Tensor bad = ~(finite & ordered);
  if (!bad.any().item<bool>()) return;
  const int64_t row = torch::nonzero(bad).select(1, 0)[0].item<int64_t>();
  torch::Tensor values = boxes[row];
  std::string why;
  if (!finite[row].item<bool>()) {
    why = "has a non-finite value (NaN or infinity)";
  } else if (values[2].item<double>() < values[0].item<double>()) {
    why = "has x2 < x1";
  } else {
    why = "has y2 < y1";
  }
  throw std::invalid_argument(name + ": box " + std::to_string(row) + " " + rowString(values) + " " + why +
                              "; boxes are x1, y1, x2, y2 with x2 >= x1 and y2 >= y1");
}

torch::Tensor boxArea(const torch::Tensor& boxes) {
  // boxes: [K, 4] -> [K]
  return (boxes.select(1, 2) - boxes.select(1, 0)) * (boxes.select(1, 3) - boxes.select(1, 1));
}

torch::Tensor boxIouUnchecked(const torch::Tensor& a, const torch::Tensor& b) {
  auto [inter, uni] = interUnion(a, b);
  return safeDivide(inter, uni);
}

torch::Tensor boxIou(const torch::Tensor& a, const torch::Tensor& b) {
  checkBoxes(a, "boxIou: a");
  checkBoxes(b, "boxIou: b");
  return boxIouUnchecked(a, b);
}

torch::Tensor generalizedBoxIou(const torch::Tensor& a, const torch::Tensor& b) {
  checkBoxes(a, "generalizedBoxIou: a");
  checkBoxes(b, "generalizedBoxIou: b");
  auto [inter, uni] = interUnion(a, b);
  torch::Tensor iou = safeDivide(inter, uni);
  torch::Tensor lt = torch::min(a.slice(1, 0, 2).unsqueeze(1), b.slice(1, 0, 2).unsqueeze(0));  // [N, M, 2]
  torch::Tensor rb = torch::max(a.slice(1, 2, 4).unsqueeze(1), b.slice(1, 2, 4).unsqueeze(0));
  torch::Tensor wh = (rb - lt).clamp_min(0);
  torch::Tensor hull = wh.select(2, 0) * wh.select(2, 1);  // [N, M]
  return iou - safeDivide(hull - uni, hull);
}

torch::Tensor alignedBoxIou(const torch::Tensor& a, const torch::Tensor& b) {
  // a, b: [K, 4] -> [K]
  torch::Tensor lt = torch::max(a.slice(1, 0, 2), b.slice(1, 0, 2));
  torch::Tensor rb = torch::min(a.slice(1, 2, 4), b.slice(1, 2, 4));
  torch::Tensor wh = (rb - lt).clamp_min(0);
  torch::Tensor inter = wh.select(1, 0) * wh.select(1, 1);
  torch::Tensor uni = boxArea(a) + boxArea(b) - inter;
  return inter / uni.clamp_min(1e-6);
}

torch::Tensor alignedGeneralizedBoxIou(const torch::Tensor& a, const torch::Tensor& b) {
  // a, b: [K, 4] -> [K]; eps as mmdet's GIoU loss (1e-6) keeps degenerate boxes finite.
  torch::Tensor lt = torch::max(a.slice(1, 0, 2), b.slice(1, 0, 2));
  torch::Tensor rb = torch::min(a.slice(1, 2, 4), b.slice(1, 2, 4));
  torch::Tensor wh = (rb - lt).clamp_min(0);
  torch::Tensor inter = wh.select(1, 0) * wh.select(1, 1);
  torch::Tensor uni = (boxArea(a) + boxArea(b) - inter).clamp_min(1e-6);
  torch::Tensor iou = inter / uni;
  torch::Tensor hullLt = torch::min(a.slice(1, 0, 2), b.slice(1, 0, 2));
  torch::Tensor hullRb = torch::max(a.slice(1, 2, 4), b.slice(1, 2, 4));
  torch::Tensor hullWh = (hullRb - hullLt).clamp_min(0);
  torch::Tensor hull = (hullWh.select(1, 0) * hullWh.select(1, 1)).clamp_min(1e-6);
  return iou - (hull - uni) / hull;
}

torch::Tensor batchedNmsUnchecked(const torch::Tensor& boxes, const torch::Tensor& scores,
                                  const torch::Tensor& classIds, double iouThreshold, int64_t maxKeep) {
  const torch::Device device = boxes.device();
  const int64_t count = boxes.size(0);
  if (count == 0) return torch::zeros({0}, torch::TensorOptions().dtype(torch::kLong).device(device));
  // On the CPU, in score order (ties: lower index first).
  torch::Tensor b = boxes.detach().to(torch::kCPU, torch::kFloat).contiguous();
  torch::Tensor s = scores.detach().to(torch::kCPU, torch::kFloat).contiguous();
  torch::Tensor c = classIds.detach().to(torch::kCPU, torch::kLong).contiguous();
  torch::Tensor order = std::get<1>(s.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true)).contiguous();
  const float* box = b.data_ptr<float>();
  const int64_t* cls = c.data_ptr<int64_t>();
  const int64_t* ord = order.data_ptr<int64_t>();
  // Greedy NMS as "compare with the kept boxes of the same class": a box is
  // kept unless a kept (so higher-scoring) box of its class overlaps it with
  // IoU > iouThreshold. Same result as suppress-the-rest greedy NMS, but the
  // work is |boxes| × |kept per class| and it can stop at maxKeep.
  std::map<int64_t, std::vector<int64_t>> keptByClass;
  std::vector<int64_t> keep;
  const float threshold = static_cast<float>(iouThreshold);
  for (int64_t oi = 0; oi < count; ++oi) {
    if (maxKeep > 0 && static_cast<int64_t>(keep.size()) >= maxKeep) break;
    const int64_t j = ord[oi];
    const float* bj = box + 4 * j;
    const float areaJ = (bj[2] - bj[0]) * (bj[3] - bj[1]);
    std::vector<int64_t>& sameClass = keptByClass[cls[j]];
    bool suppressed = false;
    for (int64_t i : sameClass) {
      const float* bi = box + 4 * i;
      const float w = std::max(0.0f, std::min(bi[2], bj[2]) - std::max(bi[0], bj[0]));
      const float h = std::max(0.0f, std::min(bi[3], bj[3]) - std::max(bi[1], bj[1]));
      const float inter = w * h;
      const float uni = (bi[2] - bi[0]) * (bi[3] - bi[1]) + areaJ - inter;
      const float iou = uni > 0 ? inter / uni : 0.0f;
      if (iou > threshold) {
        suppressed = true;
        break;
      }
    }
    if (suppressed) continue;
    sameClass.push_back(j);
    keep.push_back(j);
  }
  torch::Tensor kept = torch::tensor(keep, torch::TensorOptions().dtype(torch::kLong));
  return kept.to(device);
}

torch::Tensor nms(const torch::Tensor& boxes, const torch::Tensor& scores, double iouThreshold) {
  checkBoxes(boxes, "nms: boxes");
  checkScores(scores, boxes.size(0), "nms: scores");
  if (!std::isfinite(iouThreshold)) throw std::invalid_argument("nms: iouThreshold must be a finite number");
  torch::Tensor sameClass = torch::zeros({boxes.size(0)}, torch::TensorOptions().dtype(torch::kLong).device(boxes.device()));
  return batchedNmsUnchecked(boxes, scores, sameClass, iouThreshold);
}

torch::Tensor batchedNms(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& classIds,
                         double iouThreshold) {
  checkBoxes(boxes, "batchedNms: boxes");
  checkScores(scores, boxes.size(0), "batchedNms: scores");
  if (!classIds.defined() || classIds.dim() != 1 || classIds.size(0) != boxes.size(0) ||
      classIds.is_floating_point()) {
    throw std::invalid_argument("batchedNms: expected " + std::to_string(boxes.size(0)) +
                                " integer class ids (one per box), got shape " +
                                (classIds.defined() ? shapeString(classIds.sizes()) : std::string("none")));
  }
  if (!std::isfinite(iouThreshold)) throw std::invalid_argument("batchedNms: iouThreshold must be a finite number");
  return batchedNmsUnchecked(boxes, scores, classIds, iouThreshold);
}

torch::Tensor clipBoxes(const torch::Tensor& boxes, double width, double height) {
  // boxes: [K, 4] -> [K, 4]
  return torch::stack({boxes.select(1, 0).clamp(0, width), boxes.select(1, 1).clamp(0, height),
                       boxes.select(1, 2).clamp(0, width), boxes.select(1, 3).clamp(0, height)},
                      1);
}

}  // namespace laxray
