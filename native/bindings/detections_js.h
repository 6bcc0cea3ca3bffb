// Post-processing at the JS edge: per-image metas in, per-image detections out
// (detect() and the headCheck test hook share both).
#pragma once

#include <napi.h>

#include <string>
#include <vector>

#include "postprocess.h"

namespace laxray::js {

// [{inputWidth, inputHeight, scaleX, scaleY, originalWidth, originalHeight}]
// (lib/detector.ts makes them). Every field is required: a missing scale would
// put every box at 0 or infinity. `what` names the array in errors.
std::vector<ImageMeta> imageMetasFrom(const Napi::Value& value, const std::string& what);

// One image's detections as host tensors: boxes [K, 4] float32, scores [K]
// float32, labels [K] int32.
struct HostDetections {
  torch::Tensor boxes, scores, labels;
};

// On the worker thread: the copies detectionsToJs hands to JS.
std::vector<HostDetections> detectionsToHost(const std::vector<Detections>& detections);

// [{boxes: Float32Array, scores: Float32Array, labels: Int32Array}] per image.
Napi::Array detectionsToJs(Napi::Env env, const std::vector<HostDetections>& detections);

}  // namespace laxray::js
