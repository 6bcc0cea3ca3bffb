// The network input from raw pixels, on the device: a batch arrives as uint8
// RGB (a quarter of float32's bytes to upload) and is normalised where it is
// used, (pixel − mean) / std per channel, with the padding of each image set
// to 0 afterwards, exactly as the TypeScript pipeline pads a normalised batch
// (data/collate.ts).
#pragma once

#include <torch/torch.h>

#include <array>
#include <vector>

namespace laxray {

struct InputNormalisation {
  std::array<double, 3> mean{123.675, 116.28, 103.53};  // RGB, 0..255
  std::array<double, 3> std{58.395, 57.12, 57.375};
};

// pixels: [N, 3, H, W] uint8 on the device; sizes: per image (width, height)
// of its content, the rest is padding. -> [N, 3, H, W] float32, 0 in the padding.
torch::Tensor normaliseImages(const torch::Tensor& pixels, const std::vector<std::pair<int64_t, int64_t>>& sizes,
                              const InputNormalisation& normalisation);

}  // namespace laxray
