// What LibTorch this process runs on, and which device a name refers to.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace laxray {

struct CudaDeviceInfo {
  int index = 0;
  std::string name;
  int64_t totalMemoryBytes = 0;
};

struct RuntimeInfo {
  std::string torchVersion;
  bool builtWithCuda = false;  // the addon links a CUDA LibTorch
  bool cudaAvailable = false;  // ... and a CUDA device is usable now
  int deviceCount = 0;
  std::vector<CudaDeviceInfo> devices;
  int intraOpThreads = 1;
  int interOpThreads = 1;
};

RuntimeInfo runtimeInfo();

// Sets LibTorch's intra-op thread count (0 = all cores). LibTorch starts with
// one thread in an embedded process; a conv runs ~3x faster with two.
void setIntraOpThreads(int threads);

// "cpu", "cuda", "cuda:1" -> a device, or std::invalid_argument saying why it
// cannot be used (unknown name, CPU-only build, no GPU visible, index too big).
torch::Device resolveDevice(const std::string& name);

}  // namespace laxray
