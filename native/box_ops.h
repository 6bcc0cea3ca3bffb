// Box geometry on x1y1x2y2 tensors: area, IoU, generalized IoU, and greedy NMS
// with torchvision's semantics. boxIou, generalizedBoxIou, nms and batchedNms
// validate their inputs and throw std::invalid_argument naming the argument and
// row; the `…Unchecked` / aligned helpers are for model code that built the boxes itself.
#pragma once

#include <torch/torch.h>

#include <string>

namespace laxray {

// Throws std::invalid_argument unless `boxes` is [K, 4] (K may be 0) with every
// value finite and x2 >= x1, y2 >= y1. The message names `name` and the first
// bad row with its values.
void checkBoxes(const torch::Tensor& boxes, const std::string& name);

// boxes: [K, 4] -> [K]
torch::Tensor boxArea(const torch::Tensor& boxes);

// a: [N, 4], b: [M, 4] -> [N, M]. IoU of two boxes with an empty union is 0.
torch::Tensor boxIou(const torch::Tensor& a, const torch::Tensor& b);

// a: [N, 4], b: [M, 4] -> [N, M] in [-1, 1]: IoU − (hull − union) / hull.
torch::Tensor generalizedBoxIou(const torch::Tensor& a, const torch::Tensor& b);

// Unchecked, pairwise-aligned versions for model code: a, b: [K, 4] -> [K].
torch::Tensor alignedBoxIou(const torch::Tensor& a, const torch::Tensor& b);
torch::Tensor alignedGeneralizedBoxIou(const torch::Tensor& a, const torch::Tensor& b);
torch::Tensor boxIouUnchecked(const torch::Tensor& a, const torch::Tensor& b);  // [N, M]

// Greedy NMS. boxes: [K, 4], scores: [K] -> kept indices, int64 [k], by
// decreasing score (equal scores: lower index first). A box is suppressed by a
// kept box when their IoU is strictly greater than iouThreshold (torchvision).
torch::Tensor nms(const torch::Tensor& boxes, const torch::Tensor& scores, double iouThreshold);

// NMS within each class: boxes of different classIds ([K], integer) never
// suppress each other. -> kept indices, int64, by decreasing score.
torch::Tensor batchedNms(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& classIds,
                         double iouThreshold);

// The same without validation (model code: post-processing); maxKeep > 0
// stops after that many kept boxes (the first maxKeep of the full result).
torch::Tensor batchedNmsUnchecked(const torch::Tensor& boxes, const torch::Tensor& scores,
                                  const torch::Tensor& classIds, double iouThreshold, int64_t maxKeep = -1);

// boxes: [K, 4] -> [K, 4] with x in [0, width], y in [0, height].
torch::Tensor clipBoxes(const torch::Tensor& boxes, double width, double height);

}  // namespace laxray
