// Inference post-processing of the ATSS head, as mmdetection v2's
// ATSSHead.get_bboxes + multiclass_nms:
//   per level, keep the nmsPre anchors with the highest max-over-classes
//   sigmoid(cls)·sigmoid(quality); decode (delta or distribution) and clip to
//   the input image (resized, unpadded); keep the (anchor, class) pairs whose
//   class score sigmoid(cls) > scoreThreshold; their score is
//   sigmoid(cls)·sigmoid(quality); class-wise NMS at nmsIou; the best
//   maxPerImage; map the boxes back to the original image (x / scaleX,
//   y / scaleY) and clip to it.
// The threshold applies to the class score, not the product: mmdetection v2's
// multiclass_nms computes `valid_mask = scores > score_thr` first and only then
// multiplies by score_factors (the centerness / quality), and compares with `>`.
// The whole batch is processed at once on the outputs' device (top-k per level,
// decoding, thresholds and class-wise NMS over every image together, see
// batch_nms.h); the detections come to the host in one copy.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "batch_nms.h"
#include "box_coder.h"
#include "head_outputs.h"

namespace laxray {

struct ImageMeta {
  double inputWidth = 0;   // resized image, before padding
  double inputHeight = 0;
  double scaleX = 1;       // input x = original x · scaleX
  double scaleY = 1;
  double originalWidth = 0;
  double originalHeight = 0;
};

struct PostprocessConfig {
  int64_t nmsPre = 1000;  // per level; <= 0 keeps all
  double scoreThreshold = 0.05;
  double nmsIou = 0.6;
  int64_t maxPerImage = 100;  // <= 0 keeps all
  DeltaCoderConfig deltaCoder;
  NmsMode nms = NmsMode::Auto;  // tests force either implementation
};

struct Detections {
  torch::Tensor boxes;   // [K, 4] float x1y1x2y2 in original-image pixels
  torch::Tensor scores;  // [K] float, decreasing
  torch::Tensor labels;  // [K] int64 class ids
};

// outputs: the head's batch (N images); anchors: [A, 4] (generateAnchors);
// metas: one per image. Runs without autograd. -> N Detections on the CPU.
std::vector<Detections> postprocess(const HeadOutputs& outputs, const torch::Tensor& anchors,
                                    const std::vector<ImageMeta>& metas, const PostprocessConfig& config = {});

}  // namespace laxray
