#include "batch_nms.h"

#include <algorithm>
#include <unordered_map>
#include <vector>

namespace laxray {
namespace {

constexpr int64_t kBlock = 4096;            // device: candidates per block ([B, B] suppression matrix)
constexpr int kIterationsPerCheck = 4;      // device: fixed-point steps between convergence tests

torch::Tensor emptyIndex(const torch::Device& device) {
  return torch::zeros({0}, torch::TensorOptions().dtype(torch::kLong).device(device));
}

torch::Tensor hostBatchNms(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& groups,
                           const torch::Tensor& images, int64_t numImages, double iouThreshold, int64_t maxPerImage) {
  torch::Tensor b = boxes.detach().to(torch::kCPU, torch::kFloat).contiguous();
  torch::Tensor g = groups.detach().to(torch::kCPU, torch::kLong).contiguous();
  torch::Tensor im = images.detach().to(torch::kCPU, torch::kLong).contiguous();
  torch::Tensor order = std::get<1>(scores.detach().to(torch::kCPU, torch::kFloat).sort(/*stable=*/true, 0, /*descending=*/true))
                            .contiguous();
  const float* box = b.data_ptr<float>();
  const int64_t* group = g.data_ptr<int64_t>();
  const int64_t* image = im.data_ptr<int64_t>();
  const int64_t* ord = order.data_ptr<int64_t>();
  const float threshold = static_cast<float>(iouThreshold);
  std::unordered_map<int64_t, std::vector<int64_t>> keptByGroup;
  std::vector<std::vector<int64_t>> keptByImage(static_cast<size_t>(numImages));
  int64_t fullImages = 0;
  for (int64_t oi = 0; oi < order.size(0) && fullImages < numImages; ++oi) {
    const int64_t j = ord[oi];
    std::vector<int64_t>& imageKept = keptByImage[static_cast<size_t>(image[j])];
    if (maxPerImage > 0 && static_cast<int64_t>(imageKept.size()) >= maxPerImage) continue;
    const float* bj = box + 4 * j;
    const float areaJ = (bj[2] - bj[0]) * (bj[3] - bj[1]);
    std::vector<int64_t>& sameGroup = keptByGroup[group[j]];
    bool suppressed = false;
    for (int64_t i : sameGroup) {
      const float* bi = box + 4 * i;
      const float w = std::max(0.0f, std::min(bi[2], bj[2]) - std::max(bi[0], bj[0]));
      const float h = std::max(0.0f, std::min(bi[3], bj[3]) - std::max(bi[1], bj[1]));
      const float inter = w * h;
      const float uni = (bi[2] - bi[0]) * (bi[3] - bi[1]) + areaJ - inter;
      if ((uni > 0 ? inter / uni : 0.0f) > threshold) {
        suppressed = true;
        break;
      }
    }
    if (suppressed) continue;
    sameGroup.push_back(j);
    imageKept.push_back(j);
    if (maxPerImage > 0 && static_cast<int64_t>(imageKept.size()) == maxPerImage) ++fullImages;
  }
  std::vector<int64_t> kept;
  for (const auto& k : keptByImage) kept.insert(kept.end(), k.begin(), k.end());
  return torch::tensor(kept, torch::TensorOptions().dtype(torch::kLong)).to(boxes.device());
}

// [R, 4], [S, 4] -> [R, S] IoU > threshold, with the host scan's arithmetic
// (areaRow + areaCol − inter; an empty union is IoU 0).
torch::Tensor overlapsAbove(const torch::Tensor& rows, const torch::Tensor& cols, double threshold) {
  torch::Tensor lt = torch::max(rows.slice(1, 0, 2).unsqueeze(1), cols.slice(1, 0, 2).unsqueeze(0));  // [R, S, 2]
  torch::Tensor rb = torch::min(rows.slice(1, 2, 4).unsqueeze(1), cols.slice(1, 2, 4).unsqueeze(0));
  torch::Tensor wh = (rb - lt).clamp_min(0);
  torch::Tensor inter = wh.select(2, 0) * wh.select(2, 1);
  auto area = [](const torch::Tensor& b) { return (b.select(1, 2) - b.select(1, 0)) * (b.select(1, 3) - b.select(1, 1)); };
  torch::Tensor uni = area(rows).unsqueeze(1) + area(cols).unsqueeze(0) - inter;
  torch::Tensor iou = torch::where(uni > 0, inter / uni, torch::zeros_like(inter));
  return iou > threshold;
}

// The kept subset of one block: the fixed point of keep = candidate ∧ ¬∃ kept j < i suppressing i.
torch::Tensor clusterKeep(const torch::Tensor& suppresses, const torch::Tensor& candidate) {
  torch::Tensor keep = candidate;
  while (true) {
    torch::Tensor previous = keep;
    for (int it = 0; it < kIterationsPerCheck; ++it) {
      keep = candidate & ~(suppresses & keep.unsqueeze(1)).any(0);
    }
    if (torch::equal(keep, previous)) return keep;  // one synchronisation per kIterationsPerCheck steps
  }
}

torch::Tensor deviceBatchNms(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& groups,
                             const torch::Tensor& images, int64_t numImages, double iouThreshold, int64_t maxPerImage) {
  const torch::Device device = boxes.device();
  const int64_t count = boxes.size(0);
  torch::Tensor order = std::get<1>(scores.detach().to(torch::kFloat).sort(/*stable=*/true, 0, /*descending=*/true));
  torch::Tensor sortedBoxes = boxes.detach().to(torch::kFloat).index_select(0, order);
  torch::Tensor sortedGroups = groups.to(torch::kLong).index_select(0, order);
  torch::Tensor sortedImages = images.to(torch::kLong).index_select(0, order);
  const auto longOptions = torch::TensorOptions().dtype(torch::kLong).device(device);
  torch::Tensor keptPerImage = torch::zeros({numImages}, longOptions);
  torch::Tensor keptBoxes = torch::zeros({0, 4}, sortedBoxes.options());
  torch::Tensor keptGroups = torch::zeros({0}, longOptions);
  std::vector<torch::Tensor> keptPositions;
  for (int64_t start = 0; start < count; start += kBlock) {
    const int64_t end = std::min(count, start + kBlock);
    torch::Tensor blockBoxes = sortedBoxes.slice(0, start, end);    // [B, 4]
    torch::Tensor blockGroups = sortedGroups.slice(0, start, end);  // [B]
    torch::Tensor blockImages = sortedImages.slice(0, start, end);  // [B]
    const int64_t b = end - start;
    // Suppressed by a box kept in an earlier block.
    torch::Tensor candidate =
        ~(overlapsAbove(keptBoxes, blockBoxes, iouThreshold) & keptGroups.unsqueeze(1).eq(blockGroups.unsqueeze(0))).any(0);
    // suppresses[j, i]: j comes before i, same group, IoU above the threshold.
    torch::Tensor earlier = torch::ones({b, b}, torch::TensorOptions().dtype(torch::kBool).device(device)).triu(1);
    torch::Tensor suppresses =
        overlapsAbove(blockBoxes, blockBoxes, iouThreshold) & blockGroups.unsqueeze(1).eq(blockGroups.unsqueeze(0)) & earlier;
    torch::Tensor keep = clusterKeep(suppresses, candidate);  // [B]
    if (maxPerImage > 0) {
      // Rank of each kept box in its image, counting the earlier blocks; later boxes of an
      // image past its limit cannot suppress anything that would be kept.
      torch::Tensor oneHot = torch::one_hot(blockImages, numImages) * keep.unsqueeze(1).to(torch::kLong);  // [B, N]
      torch::Tensor rank = oneHot.cumsum(0).gather(1, blockImages.unsqueeze(1)).squeeze(1) - 1 +
                           keptPerImage.index_select(0, blockImages);
      keep = keep & rank.lt(maxPerImage);
      keptPerImage = keptPerImage + (oneHot * keep.unsqueeze(1).to(torch::kLong)).sum(0);
    }
    torch::Tensor positions = torch::nonzero(keep).select(1, 0);  // synchronises: the block's kept count
    keptPositions.push_back(positions + start);
    keptBoxes = torch::cat({keptBoxes, blockBoxes.index_select(0, positions)});
    keptGroups = torch::cat({keptGroups, blockGroups.index_select(0, positions)});
    if (maxPerImage > 0 && end < count && keptPerImage.ge(maxPerImage).all().item<bool>()) break;
  }
  torch::Tensor kept = torch::cat(keptPositions);  // positions in score order
  // By image, keeping score order within each image.
  torch::Tensor byImage = std::get<1>(sortedImages.index_select(0, kept).sort(/*stable=*/true, 0, /*descending=*/false));
  return order.index_select(0, kept.index_select(0, byImage));
}

}  // namespace

torch::Tensor batchNms(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& groups,
                       const torch::Tensor& images, int64_t numImages, double iouThreshold, int64_t maxPerImage,
                       NmsMode mode) {
  if (boxes.size(0) == 0) return emptyIndex(boxes.device());
  const bool device = mode == NmsMode::Device || (mode == NmsMode::Auto && !boxes.device().is_cpu());
  return device ? deviceBatchNms(boxes, scores, groups, images, numImages, iouThreshold, maxPerImage)
                : hostBatchNms(boxes, scores, groups, images, numImages, iouThreshold, maxPerImage);
}

}  // namespace laxray
