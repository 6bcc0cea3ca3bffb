#include "input.h"

#include <stdexcept>
#include <string>

#include "tensor_io.h"

namespace laxray {

torch::Tensor normaliseImages(const torch::Tensor& pixels, const std::vector<std::pair<int64_t, int64_t>>& sizes,
                              const InputNormalisation& normalisation) {
  if (pixels.dim() != 4 || pixels.size(1) != 3 || pixels.scalar_type() != torch::kByte) {
    throw std::invalid_argument("images: uint8 pixels must be [N, 3, H, W], got " + shapeString(pixels.sizes()));
  }
  const int64_t n = pixels.size(0), h = pixels.size(2), w = pixels.size(3);
  if (static_cast<int64_t>(sizes.size()) != n) {
    throw std::invalid_argument("images: " + std::to_string(sizes.size()) + " image sizes for " + std::to_string(n) + " images");
  }
  std::vector<int64_t> extents;
  for (size_t i = 0; i < sizes.size(); ++i) {
    const auto [width, height] = sizes[i];
    if (width < 1 || height < 1 || width > w || height > h) {
      throw std::invalid_argument("images: image " + std::to_string(i) + " is " + std::to_string(width) + "x" +
                                  std::to_string(height) + ", which does not fit the " + std::to_string(w) + "x" +
                                  std::to_string(h) + " batch");
    }
    extents.push_back(width);
    extents.push_back(height);
  }
  const torch::Device device = pixels.device();
  // The TypeScript pipeline's table (transforms.ts normalizationTable): (v − mean) / std in
  // double, stored as float32, so both paths give the same bits.
  std::vector<float> table;
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) table.push_back(static_cast<float>((v - normalisation.mean[c]) / normalisation.std[c]));
  }
  torch::Tensor lut = toDevice(torch::tensor(table, torch::TensorOptions().dtype(torch::kFloat)), device);  // [3·256]
  torch::Tensor extent = toDevice(torch::tensor(extents, torch::TensorOptions().dtype(torch::kLong)), device).view({n, 2});
  const auto longOptions = torch::TensorOptions().dtype(torch::kLong).device(device);
  torch::Tensor insideX = torch::arange(w, longOptions).view({1, w}) < extent.select(1, 0).view({n, 1});  // [N, W]
  torch::Tensor insideY = torch::arange(h, longOptions).view({1, h}) < extent.select(1, 1).view({n, 1});  // [N, H]
  torch::Tensor inside = (insideY.unsqueeze(2) & insideX.unsqueeze(1)).unsqueeze(1);                   // [N, 1, H, W]
  torch::Tensor channelBase = torch::arange(3, longOptions).view({1, 3, 1, 1}) * 256;
  torch::Tensor x = lut.take(pixels.to(torch::kLong) + channelBase);  // [N, 3, H, W]
  return x.masked_fill(~inside, 0.0);
}

}  // namespace laxray
