// The few places where LibTorch 1.13 (Debian) and 2.x (pip, CUDA) differ.
// Everything else in native/ uses the stable C++ frontend API directly.
#pragma once

#include <ATen/autocast_mode.h>
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

// Autocast state of this thread for one device type (CPU or CUDA). LibTorch
// 2.4 made these per device type and deprecated the per-device functions.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
inline bool autocastEnabled(at::DeviceType type) { return at::autocast::is_autocast_enabled(type); }
inline void setAutocastEnabled(at::DeviceType type, bool on) { at::autocast::set_autocast_enabled(type, on); }
inline at::ScalarType autocastDtype(at::DeviceType type) { return at::autocast::get_autocast_dtype(type); }
inline void setAutocastDtype(at::DeviceType type, at::ScalarType dtype) { at::autocast::set_autocast_dtype(type, dtype); }
#else
inline bool autocastEnabled(at::DeviceType type) {
  return type == at::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
inline void setAutocastEnabled(at::DeviceType type, bool on) {
  if (type == at::kCUDA) {
    at::autocast::set_enabled(on);
  } else {
    at::autocast::set_cpu_enabled(on);
  }
}
inline at::ScalarType autocastDtype(at::DeviceType type) {
  return type == at::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
inline void setAutocastDtype(at::DeviceType type, at::ScalarType dtype) {
  if (type == at::kCUDA) {
    at::autocast::set_autocast_gpu_dtype(dtype);
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
  }
}
#endif

}  // namespace laxray
