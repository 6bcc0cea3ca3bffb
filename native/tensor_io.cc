#include "tensor_io.h"

#include <cstring>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace laxray {

std::string shapeString(at::IntArrayRef shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
  out << "]";
  return out.str();
}

std::string dtypeName(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kByte: return "uint8";
    case at::kChar: return "int8";
    case at::kShort: return "int16";
    case at::kInt: return "int32";
    case at::kLong: return "int64";
    case at::kBool: return "bool";
    default: return c10::toString(dtype);
  }
}

HostBuffer copyHostBuffer(const void* data, size_t byteLength, at::ScalarType dtype, std::vector<int64_t> shape) {
  HostBuffer host;
  host.bytes = torch::empty({static_cast<int64_t>(byteLength)}, torch::kByte);
  if (byteLength > 0) std::memcpy(host.bytes.data_ptr(), data, byteLength);
  host.byteLength = byteLength;
  host.dtype = dtype;
  host.shape = std::move(shape);
  return host;
}

torch::Tensor tensorFromHost(const HostBuffer& host, const torch::Device& device, const std::string& what) {
  int64_t numel = 1;
  for (int64_t d : host.shape) {
    if (d < 0) throw std::invalid_argument(what + ": shape " + shapeString(host.shape) + " has a negative dimension");
    if (d > 0 && numel > std::numeric_limits<int64_t>::max() / d) {
      throw std::invalid_argument(what + ": shape " + shapeString(host.shape) + " has more elements than memory can hold");
    }
    numel *= d;
  }
  const size_t elementSize = c10::elementSize(host.dtype);
  if (static_cast<size_t>(numel) * elementSize != host.byteLength) {
    throw std::invalid_argument(what + ": shape " + shapeString(host.shape) + " needs " + std::to_string(numel) +
                                " elements but the array holds " + std::to_string(host.byteLength / elementSize));
  }
  if (numel == 0) return torch::empty(host.shape, torch::TensorOptions().dtype(host.dtype).device(device));
  torch::Tensor tensor = host.bytes.view(host.dtype).view(host.shape);
  return device.is_cpu() ? tensor : tensor.to(device);
}

torch::Tensor toDevice(const torch::Tensor& host, const torch::Device& device) {
  if (device.is_cpu()) return host;
  return host.pin_memory().to(device, /*non_blocking=*/true);
}

torch::Tensor toHostTensor(const torch::Tensor& tensor, const std::string& what) {
  torch::Tensor t = tensor.detach().to(torch::kCPU);
  switch (t.scalar_type()) {
    case at::kFloat:
    case at::kByte:
    case at::kInt:
      break;
    case at::kDouble:
    case at::kHalf:
    case at::kBFloat16:
      t = t.to(at::kFloat);
      break;
    case at::kBool:
      t = t.to(at::kByte);
      break;
    case at::kLong:
    case at::kShort:
    case at::kChar:
      if (t.numel() > 0 && (t.max().item<int64_t>() > std::numeric_limits<int32_t>::max() ||
                            t.min().item<int64_t>() < std::numeric_limits<int32_t>::min())) {
        throw std::range_error(what + ": integer values do not fit in an Int32Array");
      }
      t = t.to(at::kInt);
      break;
    default:
      throw std::invalid_argument(what + ": tensors of type " + std::string(c10::toString(t.scalar_type())) +
                                  " cannot be returned to JavaScript");
  }
  t = t.contiguous();
  return t.numel() > 0 && t.is_alias_of(tensor) ? t.clone() : t;
}

}  // namespace laxray
