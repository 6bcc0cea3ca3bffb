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

// Most intra-op threads per core setIntraOpThreads accepts: more only adds
// contention, and every thread that calls into LibTorch (each libuv worker)
// gets a team of that many, so thousands exhaust the process.
constexpr int kMaxThreadsPerCore = 4;

// Sets LibTorch's intra-op thread count for the process (0 = all cores).
// LibTorch starts with one thread in an embedded process; a conv runs ~3x
// faster with two. Throws std::invalid_argument above kMaxThreadsPerCore per core.
void setIntraOpThreads(int64_t threads);

// "cpu", "cuda", "cuda:1" -> a device, or std::invalid_argument saying why it
// cannot be used (unknown name, CPU-only build, no GPU visible, index too big).
torch::Device resolveDevice(const std::string& name);

}  // namespace laxray
