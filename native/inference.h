// Detection on a batch: test-mode forward (LA with pseudo labels) and the
// post-processing that maps boxes back to each original image.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "detector.h"
#include "postprocess.h"

namespace laxray {

// images: [N, 3, H, W] normalised; metas: one per image. Leaves the model in eval mode.
std::vector<Detections> detectBatch(DetectorImpl& model, const torch::Tensor& images, const std::vector<ImageMeta>& metas);

}  // namespace laxray
