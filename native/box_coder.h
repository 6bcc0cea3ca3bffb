// Box coders of the two regression heads.
// - Delta (vanilla ATSS): mmdetection's DeltaXYWHBBoxCoder — (dx, dy, dw, dh)
//   of a box relative to its anchor, normalised by means/stds; decode clamps
//   dw, dh to |log(16/1000)| before exp.
// - Distance (distribution head): (left, top, right, bottom) distances from the
//   anchor centre in stride units, clamped to [0, regMax − 0.01]; the head
//   predicts them as distributions over bins 0..regMax.
#pragma once

#include <torch/torch.h>

#include <array>
#include <cstdint>

namespace laxray {

struct DeltaCoderConfig {
  std::array<double, 4> means{0.0, 0.0, 0.0, 0.0};
  std::array<double, 4> stds{0.1, 0.1, 0.2, 0.2};
  double whRatioClip = 16.0 / 1000.0;
};

// anchors, boxes: [K, 4] x1y1x2y2 -> deltas [K, 4]
torch::Tensor deltaEncode(const torch::Tensor& anchors, const torch::Tensor& boxes,
                          const DeltaCoderConfig& config = {});

// anchors: [K, 4], deltas: [K, 4] -> boxes [K, 4] (not clipped).
torch::Tensor deltaDecode(const torch::Tensor& anchors, const torch::Tensor& deltas,
                          const DeltaCoderConfig& config = {});

// points: [K, 2] anchor centres (px), boxes: [K, 4] px, strides: [K] px ->
// [K, 4] (l, t, r, b) in stride units, clamped to [0, regMax − 0.01].
torch::Tensor distanceEncode(const torch::Tensor& points, const torch::Tensor& boxes, const torch::Tensor& strides,
                             int64_t regMax);

// points: [K, 2] px, distances: [K, 4] (l, t, r, b) in px -> boxes [K, 4].
torch::Tensor distanceDecode(const torch::Tensor& points, const torch::Tensor& distances);

// logits: [..., regMax + 1] -> [...] expected bin Σ softmax · [0..regMax] (stride units).
torch::Tensor distributionIntegral(const torch::Tensor& logits);

// Centerness target of FCOS/ATSS: points [K, 2] inside boxes [K, 4] -> [K]
// sqrt(min(l, r)/max(l, r) · min(t, b)/max(t, b)).
torch::Tensor centernessTarget(const torch::Tensor& points, const torch::Tensor& boxes);

}  // namespace laxray
