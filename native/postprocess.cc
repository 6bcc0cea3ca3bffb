#include "postprocess.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "anchors.h"
#include "box_ops.h"
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

}  // namespace

std::vector<Detections> postprocess(const HeadOutputs& outputs, const torch::Tensor& anchors,
                                    const std::vector<ImageMeta>& metas, const PostprocessConfig& config) {
  torch::NoGradGuard noGrad;
  const torch::Tensor& cls = outputs.clsLogits;  // [N, A, C]
  const bool distribution = outputs.regression == RegressionKind::Distribution;
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

  const torch::Device device = cls.device();
  torch::Tensor boxAnchors = anchors.to(device, torch::kFloat);
  torch::Tensor centres = anchorCenters(boxAnchors);                                           // [A, 2]
  torch::Tensor strides = anchorStrides(outputs.numAnchorsPerLevel, outputs.strides, device);  // [A]
  torch::Tensor clsProb = torch::sigmoid(cls.to(torch::kFloat));                               // [N, A, C]
  torch::Tensor qualityProb = torch::sigmoid(outputs.qualityLogits.to(torch::kFloat));         // [N, A]

  std::vector<Detections> results;
  for (int64_t i = 0; i < n; ++i) {
    const ImageMeta& meta = metas[static_cast<size_t>(i)];
    // Per level: the nmsPre best anchors by max over classes of cls·quality.
    std::vector<torch::Tensor> levelIdx;
    int64_t start = 0;
    for (int64_t count : outputs.numAnchorsPerLevel) {
      if (count == 0) continue;
      torch::Tensor idx = torch::arange(start, start + count, torch::TensorOptions().dtype(torch::kLong).device(device));
      if (config.nmsPre > 0 && count > config.nmsPre) {
        torch::Tensor joint = clsProb[i].slice(0, start, start + count) *
                              qualityProb[i].slice(0, start, start + count).unsqueeze(1);  // [count, C]
        torch::Tensor best = std::get<0>(joint.max(1));                                    // [count]
        idx = std::get<1>(best.topk(config.nmsPre)) + start;
      }
      levelIdx.push_back(idx);
      start += count;
    }
    torch::Tensor keep = levelIdx.empty() ? torch::zeros({0}, torch::TensorOptions().dtype(torch::kLong).device(device))
                                          : torch::cat(levelIdx);  // [K]
    torch::Tensor boxes;                                            // [K, 4] input px
    if (!distribution) {
      boxes = deltaDecode(boxAnchors.index_select(0, keep),
                          outputs.boxRegression[i].to(torch::kFloat).index_select(0, keep), config.deltaCoder);
    } else {
      torch::Tensor logits = outputs.boxRegression[i].to(torch::kFloat).index_select(0, keep);  // [K, 4, regMax + 1]
      torch::Tensor distances = distributionIntegral(logits) * strides.index_select(0, keep).unsqueeze(1);
      boxes = distanceDecode(centres.index_select(0, keep), distances);
    }
    boxes = clipBoxes(boxes, meta.inputWidth, meta.inputHeight);
    torch::Tensor clsScores = clsProb[i].index_select(0, keep);                                   // [K, C]
    torch::Tensor scores = clsScores * qualityProb[i].index_select(0, keep).unsqueeze(1);        // [K, C]
    // Threshold on the class score, before the quality factor (mmdet v2 multiclass_nms).
    torch::Tensor pairs = torch::nonzero(clsScores > config.scoreThreshold);  // [P, 2] (row, class)
    torch::Tensor rows = pairs.select(1, 0);
    torch::Tensor classes = pairs.select(1, 1);
    torch::Tensor pairBoxes = boxes.index_select(0, rows);  // [P, 4]
    torch::Tensor pairScores = scores.reshape({-1}).index_select(0, rows * scores.size(1) + classes);  // [P]
    torch::Tensor kept = batchedNmsUnchecked(pairBoxes, pairScores, classes, config.nmsIou, config.maxPerImage);
    Detections det;
    torch::Tensor scale = torch::tensor({meta.scaleX, meta.scaleY, meta.scaleX, meta.scaleY},
                                        torch::TensorOptions().dtype(torch::kFloat).device(device));
    det.boxes = clipBoxes(pairBoxes.index_select(0, kept) / scale, meta.originalWidth, meta.originalHeight);
    det.scores = pairScores.index_select(0, kept);
    det.labels = classes.index_select(0, kept);
    results.push_back(det);
  }
  return results;
}

}  // namespace laxray
