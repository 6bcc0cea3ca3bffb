#include "postprocess.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "anchors.h"
#include "batch_nms.h"
#include "tensor_io.h"

namespace laxray {
namespace {

void checkMeta(const ImageMeta& m, size_t i) {
  const bool ok = std::isfinite(m.inputWidth) && std::isfinite(m.inputHeight) && std::isfinite(m.scaleX) &&
                  std::isfinite(m.scaleY) && std::isfinite(m.originalWidth) && std::isfinite(m.originalHeight) &&
                  m.inputWidth > 0 && m.inputHeight > 0 && m.scaleX > 0 && m.scaleY > 0 && m.originalWidth > 0 &&
                  m.originalHeight > 0;
  if (!ok) {
    throw std::invalid_argument("postprocess: image " + std::to_string(i) +
                                ": sizes and scale factors must be finite and > 0 (inputWidth " +
                                std::to_string(m.inputWidth) + ", inputHeight " + std::to_string(m.inputHeight) +
                                ", scaleX " + std::to_string(m.scaleX) + ", scaleY " + std::to_string(m.scaleY) +
                                ", originalWidth " + std::to_string(m.originalWidth) + ", originalHeight " +
                                std::to_string(m.originalHeight) + ")");
  }
}

void checkOutputs(const HeadOutputs& outputs, const torch::Tensor& anchors, const std::vector<ImageMeta>& metas) {
  const torch::Tensor& cls = outputs.clsLogits;
  if (!cls.defined() || cls.dim() != 3) throw std::invalid_argument("postprocess: clsLogits must be [N, A, C]");
  const int64_t n = cls.size(0);
  const int64_t a = cls.size(1);
  if (static_cast<int64_t>(metas.size()) != n) {
    throw std::invalid_argument("postprocess: " + std::to_string(n) + " images in the batch but " +
                                std::to_string(metas.size()) + " image metas");
  }
  if (anchors.dim() != 2 || anchors.size(0) != a || anchors.size(1) != 4) {
    throw std::invalid_argument("postprocess: anchors must be [" + std::to_string(a) + ", 4], got " +
                                shapeString(anchors.sizes()));
  }
  if (outputs.numAnchorsPerLevel.size() != outputs.strides.size()) {
    throw std::invalid_argument("postprocess: numAnchorsPerLevel and strides have different lengths");
  }
  int64_t total = 0;
  for (int64_t c : outputs.numAnchorsPerLevel) total += c;
  if (total != a) {
    throw std::invalid_argument("postprocess: numAnchorsPerLevel sums to " + std::to_string(total) + " but the head has " +
                                std::to_string(a) + " anchors");
  }
  for (size_t i = 0; i < metas.size(); ++i) checkMeta(metas[i], i);
}

// Per image, the indices [N, K] of the nmsPre anchors of each level with the
// highest max over classes of cls·quality (all of a smaller level), levels in order.
torch::Tensor levelTopK(const torch::Tensor& clsProb, const torch::Tensor& qualityProb,
                        const std::vector<int64_t>& numAnchorsPerLevel, int64_t nmsPre) {
  const int64_t n = clsProb.size(0);
  const auto longOptions = torch::TensorOptions().dtype(torch::kLong).device(clsProb.device());
  std::vector<torch::Tensor> levels;
  int64_t start = 0;
  for (int64_t count : numAnchorsPerLevel) {
    if (count == 0) continue;
    if (nmsPre > 0 && count > nmsPre) {
      torch::Tensor joint = clsProb.slice(1, start, start + count) * qualityProb.slice(1, start, start + count).unsqueeze(2);
      torch::Tensor best = std::get<0>(joint.max(2));                       // [N, count]
      levels.push_back(std::get<1>(best.topk(nmsPre, /*dim=*/1)) + start);  // [N, nmsPre]
    } else {
      levels.push_back(torch::arange(start, start + count, longOptions).unsqueeze(0).expand({n, count}));
    }
    start += count;
  }
  if (levels.empty()) return torch::zeros({n, 0}, longOptions);
  return torch::cat(levels, 1);
}

// Decoded boxes [N, K, 4] (input px, not clipped) of the anchors `keep` [N, K].
torch::Tensor decodeKept(const HeadOutputs& outputs, const torch::Tensor& anchors, const torch::Tensor& keep,
                         const DeltaCoderConfig& coder) {
  const int64_t n = keep.size(0), k = keep.size(1);
  torch::Tensor flat = keep.reshape({-1});  // [N·K]
  if (outputs.regression == RegressionKind::Delta) {
    torch::Tensor deltas = outputs.boxRegression.to(torch::kFloat).gather(1, keep.unsqueeze(2).expand({n, k, 4}));
    return deltaDecode(anchors.index_select(0, flat), deltas.reshape({-1, 4}), coder).reshape({n, k, 4});
  }
  const int64_t bins = outputs.boxRegression.size(3);
  torch::Tensor logits =
      outputs.boxRegression.to(torch::kFloat).gather(1, keep.view({n, k, 1, 1}).expand({n, k, 4, bins}));  // [N, K, 4, R+1]
  torch::Tensor strides = anchorStrides(outputs.numAnchorsPerLevel, outputs.strides, anchors.device()).index_select(0, flat);
  torch::Tensor distances = distributionIntegral(logits).reshape({-1, 4}) * strides.unsqueeze(1);  // [N·K, 4] px
  return distanceDecode(anchorCenters(anchors).index_select(0, flat), distances).reshape({n, k, 4});
}

// Per image (x1, y1, x2, y2) bounds as a [N, 1, 4] tensor on `device`.
torch::Tensor imageBounds(const std::vector<ImageMeta>& metas, bool original, const torch::Device& device) {
  std::vector<float> values;
  for (const ImageMeta& m : metas) {
    const double w = original ? m.originalWidth : m.inputWidth;
    const double h = original ? m.originalHeight : m.inputHeight;
    values.insert(values.end(), {static_cast<float>(w), static_cast<float>(h), static_cast<float>(w), static_cast<float>(h)});
  }
  torch::Tensor host = torch::tensor(values, torch::TensorOptions().dtype(torch::kFloat)).reshape({-1, 1, 4});
  return toDevice(host, device);
}

torch::Tensor imageScales(const std::vector<ImageMeta>& metas, const torch::Device& device) {
  std::vector<float> values;
  for (const ImageMeta& m : metas) {
    values.insert(values.end(), {static_cast<float>(m.scaleX), static_cast<float>(m.scaleY), static_cast<float>(m.scaleX),
                                 static_cast<float>(m.scaleY)});
  }
  return toDevice(torch::tensor(values, torch::TensorOptions().dtype(torch::kFloat)).reshape({-1, 4}), device);
}

// boxes clamped to [0, bound] per coordinate; bounds broadcast against boxes.
torch::Tensor clipTo(const torch::Tensor& boxes, const torch::Tensor& bounds) {
  return torch::min(boxes.clamp_min(0), bounds);
}

}  // namespace

std::vector<Detections> postprocess(const HeadOutputs& outputs, const torch::Tensor& anchors,
                                    const std::vector<ImageMeta>& metas, const PostprocessConfig& config) {
  torch::NoGradGuard noGrad;
  checkOutputs(outputs, anchors, metas);
  const torch::Tensor& cls = outputs.clsLogits;  // [N, A, C]
  const torch::Device device = cls.device();
  const int64_t n = cls.size(0), numClasses = cls.size(2);
  torch::Tensor boxAnchors = anchors.to(device, torch::kFloat);
  torch::Tensor clsProb = torch::sigmoid(cls.to(torch::kFloat));                        // [N, A, C]
  torch::Tensor qualityProb = torch::sigmoid(outputs.qualityLogits.to(torch::kFloat));  // [N, A]

  torch::Tensor keep = levelTopK(clsProb, qualityProb, outputs.numAnchorsPerLevel, config.nmsPre);  // [N, K]
  const int64_t k = keep.size(1);
  torch::Tensor boxes = clipTo(decodeKept(outputs, boxAnchors, keep, config.deltaCoder), imageBounds(metas, false, device));
  torch::Tensor clsScores = clsProb.gather(1, keep.unsqueeze(2).expand({n, k, numClasses}));  // [N, K, C]
  torch::Tensor scores = clsScores * qualityProb.gather(1, keep).unsqueeze(2);               // [N, K, C]

  // Threshold on the class score, before the quality factor (mmdet v2 multiclass_nms);
  // pairs in (image, anchor, class) order, so equal scores keep the per-image order.
  torch::Tensor pairs = torch::nonzero(clsScores > config.scoreThreshold);  // [P, 3]
  torch::Tensor image = pairs.select(1, 0), row = pairs.select(1, 1), label = pairs.select(1, 2);
  torch::Tensor pairBoxes = boxes.reshape({-1, 4}).index_select(0, image * k + row);                  // [P, 4]
  torch::Tensor pairScores = scores.reshape({-1}).index_select(0, (image * k + row) * numClasses + label);  // [P]
  torch::Tensor kept = batchNms(pairBoxes, pairScores, image * numClasses + label, image, n, config.nmsIou,
                                config.maxPerImage, config.nms);  // [D], by image

  torch::Tensor keptImage = image.index_select(0, kept);
  torch::Tensor original = clipTo(pairBoxes.index_select(0, kept) / imageScales(metas, device).index_select(0, keptImage),
                                  imageBounds(metas, true, device).squeeze(1).index_select(0, keptImage));
  // One copy to the host for the whole batch: per detection its box, score,
  // label and image (labels and image indices are small integers, exact in float).
  torch::Tensor packed = torch::cat({original, pairScores.index_select(0, kept).unsqueeze(1),
                                     label.index_select(0, kept).unsqueeze(1).to(torch::kFloat),
                                     keptImage.unsqueeze(1).to(torch::kFloat)},
                                    1)
                             .to(torch::kCPU)
                             .contiguous();  // [D, 7], by image
  const float* imageOf = packed.data_ptr<float>() + 6;
  std::vector<Detections> results;
  int64_t start = 0;
  for (int64_t i = 0; i < n; ++i) {
    int64_t end = start;
    while (end < packed.size(0) && static_cast<int64_t>(imageOf[7 * end]) == i) ++end;
    torch::Tensor rows = packed.slice(0, start, end);
    results.push_back({rows.slice(1, 0, 4).contiguous(), rows.select(1, 4).contiguous(), rows.select(1, 5).to(torch::kLong)});
    start = end;
  }
  return results;
}

}  // namespace laxray
