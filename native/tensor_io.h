// Moving tensor data between host memory (what JS typed arrays hold) and
// LibTorch tensors on any device. Knows nothing about N-API: the bindings hand
// it a pointer, a dtype and a shape.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace laxray {

// A view of caller-owned host memory; the caller keeps it alive while in use.
struct HostBuffer {
  const void* data = nullptr;
  size_t byteLength = 0;
  at::ScalarType dtype = at::kFloat;  // kFloat, kByte or kInt (Float32Array, Uint8Array, Int32Array)
  std::vector<int64_t> shape;
};

// "[2, 3]"
std::string shapeString(at::IntArrayRef shape);

// Copies `host` into a new tensor on `device`. Throws std::invalid_argument
// naming `what` when the shape does not describe exactly byteLength bytes.
torch::Tensor tensorFromHost(const HostBuffer& host, const torch::Device& device, const std::string& what);

// A small host tensor (sizes, scales) on `device`: on CUDA copied from pinned
// memory without blocking the host (the copy is ordered on the current stream).
torch::Tensor toDevice(const torch::Tensor& host, const torch::Device& device);

// "float32", "uint8", "int32", ... (the names JS users know from typed arrays).
std::string dtypeName(at::ScalarType dtype);

// A contiguous CPU tensor of a dtype JS can hold (float32, uint8 or int32):
// float64/half -> float32, int64/int16 -> int32 (range-checked), bool -> uint8.
torch::Tensor toHostTensor(const torch::Tensor& tensor, const std::string& what);

}  // namespace laxray
