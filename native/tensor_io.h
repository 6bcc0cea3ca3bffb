// Moving tensor data between host memory (what JS typed arrays hold) and
// LibTorch tensors on any device. Knows nothing about N-API: the bindings hand
// it a pointer, a dtype and a shape, and it copies at once — no pointer into
// the caller's memory is kept.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace laxray {

// Host data with its dtype and shape, owning a copy of the bytes: the memory
// it was copied from may change or be freed as soon as copyHostBuffer returns
// (a JS typed array can be rewritten or transferred right after the call).
struct HostBuffer {
  torch::Tensor bytes;  // [byteLength] uint8 on the CPU
  size_t byteLength = 0;
  at::ScalarType dtype = at::kFloat;  // kFloat, kByte or kInt (Float32Array, Uint8Array, Int32Array)
  std::vector<int64_t> shape;
};

// Copies byteLength bytes from `data` (null when byteLength is 0).
HostBuffer copyHostBuffer(const void* data, size_t byteLength, at::ScalarType dtype, std::vector<int64_t> shape);

// "[2, 3]"
std::string shapeString(at::IntArrayRef shape);

// `host` as a tensor of its dtype and shape on `device`. Throws
// std::invalid_argument naming `what` when the shape does not describe exactly
// byteLength bytes. On the CPU the tensor shares the buffer's bytes (no second
// copy): treat it as read-only, as the model does its inputs.
torch::Tensor tensorFromHost(const HostBuffer& host, const torch::Device& device, const std::string& what);

// A small host tensor (sizes, scales) on `device`: on CUDA copied from pinned
// memory without blocking the host (the copy is ordered on the current stream).
torch::Tensor toDevice(const torch::Tensor& host, const torch::Device& device);

// "float32", "uint8", "int32", ... (the names JS users know from typed arrays).
std::string dtypeName(at::ScalarType dtype);

// A contiguous CPU tensor of a dtype JS can hold (float32, uint8 or int32):
// float64/half -> float32, int64/int16 -> int32 (range-checked), bool -> uint8.
// Always a copy, never a view of `tensor` (a parameter handed to JS must not
// move with training, nor the model change when JS writes into the array).
torch::Tensor toHostTensor(const torch::Tensor& tensor, const std::string& what);

}  // namespace laxray
