// The few places where LibTorch 1.13 (Debian) and 2.x (pip, CUDA) differ.
// Everything else in native/ uses the stable C++ frontend API directly.
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#include <string>

namespace laxray {

inline std::string torchVersionString() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
         std::to_string(TORCH_VERSION_PATCH);
}

// c10::Error::what() carries a C++ backtrace; users need only the message.
inline std::string errorMessageOf(const c10::Error& e) { return e.what_without_backtrace(); }

}  // namespace laxray
