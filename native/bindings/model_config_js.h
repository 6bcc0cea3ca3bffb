// The `model` section of a laxray config (lib/config) -> ModelConfig.
#pragma once

#include <napi.h>

#include "model_config.h"

namespace laxray::js {

ModelConfig modelConfigFrom(const Napi::Value& value);

}  // namespace laxray::js
