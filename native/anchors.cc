#include "anchors.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace laxray {

torch::Tensor generateAnchors(const std::vector<std::pair<int64_t, int64_t>>& featureSizes,
                              const std::vector<int64_t>& strides, double scale, torch::Device device) {
  if (featureSizes.size() != strides.size()) {
    throw std::invalid_argument("generateAnchors: " + std::to_string(featureSizes.size()) + " feature sizes but " +
                                std::to_string(strides.size()) + " strides; give one stride per level");
  }
  if (!(scale > 0)) throw std::invalid_argument("generateAnchors: scale must be > 0, got " + std::to_string(scale));
  const auto options = torch::TensorOptions().dtype(torch::kFloat).device(device);
  std::vector<torch::Tensor> levels;
  for (size_t l = 0; l < featureSizes.size(); ++l) {
    const int64_t height = featureSizes[l].first;
    const int64_t width = featureSizes[l].second;
    const int64_t stride = strides[l];
    if (height < 0 || width < 0 || stride <= 0) {
      throw std::invalid_argument("generateAnchors: level " + std::to_string(l) + " has size " +
                                  std::to_string(height) + "x" + std::to_string(width) + " and stride " +
                                  std::to_string(stride) + "; sizes must be >= 0 and strides > 0");
    }
    // centres: x·s, y·s (center_offset 0); row-major: y outer, x inner.
    torch::Tensor xs = torch::arange(width, options) * static_cast<double>(stride);   // [W]
    torch::Tensor ys = torch::arange(height, options) * static_cast<double>(stride);  // [H]
    torch::Tensor cx = xs.unsqueeze(0).expand({height, width}).reshape({-1});        // [H·W]
    torch::Tensor cy = ys.unsqueeze(1).expand({height, width}).reshape({-1});        // [H·W]
    const double half = 0.5 * scale * static_cast<double>(stride);
    levels.push_back(torch::stack({cx - half, cy - half, cx + half, cy + half}, 1));  // [H·W, 4]
  }
  if (levels.empty()) return torch::zeros({0, 4}, options);
  return torch::cat(levels, 0);
}

torch::Tensor validAnchorFlags(const std::vector<std::pair<int64_t, int64_t>>& featureSizes,
                               const std::vector<int64_t>& strides, int64_t padWidth, int64_t padHeight,
                               torch::Device device) {
  if (featureSizes.size() != strides.size()) {
    throw std::invalid_argument("validAnchorFlags: " + std::to_string(featureSizes.size()) + " feature sizes but " +
                                std::to_string(strides.size()) + " strides");
  }
  if (padWidth < 1 || padHeight < 1) {
    throw std::invalid_argument("validAnchorFlags: the image extent must be at least 1x1, got " +
                                std::to_string(padWidth) + "x" + std::to_string(padHeight));
  }
  const auto options = torch::TensorOptions().dtype(torch::kLong).device(device);
  std::vector<torch::Tensor> levels;
  for (size_t l = 0; l < featureSizes.size(); ++l) {
    const auto [height, width] = featureSizes[l];
    const int64_t stride = strides[l];
    if (stride <= 0) throw std::invalid_argument("validAnchorFlags: level " + std::to_string(l) + " has stride " + std::to_string(stride));
    const int64_t validW = std::min((padWidth + stride - 1) / stride, width);    // ceil(padWidth / s)
    const int64_t validH = std::min((padHeight + stride - 1) / stride, height);  // ceil(padHeight / s)
    torch::Tensor xs = torch::arange(width, options) < validW;   // [W]
    torch::Tensor ys = torch::arange(height, options) < validH;  // [H]
    levels.push_back((ys.unsqueeze(1) & xs.unsqueeze(0)).reshape({-1}));  // [H·W], row-major
  }
  if (levels.empty()) return torch::zeros({0}, options.dtype(torch::kBool));
  return torch::cat(levels, 0);
}

torch::Tensor anchorCenters(const torch::Tensor& anchors) {
  // anchors: [A, 4] -> [A, 2]
  return torch::stack({(anchors.select(1, 0) + anchors.select(1, 2)) * 0.5,
                       (anchors.select(1, 1) + anchors.select(1, 3)) * 0.5},
                      1);
}

torch::Tensor anchorStrides(const std::vector<int64_t>& numAnchorsPerLevel, const std::vector<int64_t>& strides,
                            torch::Device device) {
  if (numAnchorsPerLevel.size() != strides.size()) {
    throw std::invalid_argument("anchorStrides: " + std::to_string(numAnchorsPerLevel.size()) +
                                " levels of anchors but " + std::to_string(strides.size()) + " strides");
  }
  const auto options = torch::TensorOptions().dtype(torch::kFloat).device(device);
  std::vector<torch::Tensor> parts;
  for (size_t l = 0; l < strides.size(); ++l) {
    parts.push_back(torch::full({numAnchorsPerLevel[l]}, static_cast<double>(strides[l]), options));
  }
  if (parts.empty()) return torch::zeros({0}, options);
  return torch::cat(parts, 0);
}

}  // namespace laxray
