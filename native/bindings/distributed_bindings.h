// What other binding files need of the process-group binding.
#pragma once

#include <napi.h>

#include <memory>
#include <string>

#include "distributed/process_group.h"

namespace laxray::js {

// The group behind a NativeProcessGroup object; null for null/undefined.
// Throws a TypeError naming `what` for anything else.
std::shared_ptr<DataParallelGroup> processGroupFrom(const Napi::Value& value, const std::string& what);

}  // namespace laxray::js
