// Anchors of the ATSS head: one square anchor per feature-map location, as
// mmdetection's AnchorGenerator with octave_base_scale 8, scales_per_octave 1,
// ratios [1] and center_offset 0. The layout matches head_outputs.h: levels
// concatenated P3..P7, row-major (y, then x) within a level.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace laxray {

// featureSizes: per level (height, width) of the feature map; strides: per
// level, in input pixels. The anchor at (x, y) of a level with stride s is
// centred at (x·s, y·s) with side scale·s.
// -> [A, 4] float32 x1y1x2y2 on `device`, A = Σ height·width.
torch::Tensor generateAnchors(const std::vector<std::pair<int64_t, int64_t>>& featureSizes,
                              const std::vector<int64_t>& strides, double scale, torch::Device device);

// mmdetection's AnchorGenerator.valid_flags for one image of a padded batch:
// the anchor at (x, y) of a level with stride s is valid when
// x < ceil(padWidth / s) and y < ceil(padHeight / s), i.e. its centre lies in
// the image's own padded extent (mmdetection's pad_shape: the resized image
// rounded up to the size divisor), not in padding added for larger images.
// -> [A] bool on `device`, levels and order as generateAnchors.
torch::Tensor validAnchorFlags(const std::vector<std::pair<int64_t, int64_t>>& featureSizes,
                               const std::vector<int64_t>& strides, int64_t padWidth, int64_t padHeight,
                               torch::Device device);

// anchors: [A, 4] x1y1x2y2 -> [A, 2] (cx, cy)
torch::Tensor anchorCenters(const torch::Tensor& anchors);

// Per anchor, the stride of its level: [A] float32 on `device`.
torch::Tensor anchorStrides(const std::vector<int64_t>& numAnchorsPerLevel, const std::vector<int64_t>& strides,
                            torch::Device device);

}  // namespace laxray
