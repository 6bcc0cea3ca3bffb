// The `model` section of a laxray config (lib/config) -> ModelConfig.
#pragma once

#include <napi.h>

#include "model_config.h"
#include "precision.h"

namespace laxray::js {

ModelConfig modelConfigFrom(const Napi::Value& value);

// The top-level precision/layout keys {precision, labelAwarePrecision,
// channelsLast, cudnnBenchmark}; undefined -> the defaults.
ExecutionConfig executionConfigFrom(const Napi::Value& value);

}  // namespace laxray::js
