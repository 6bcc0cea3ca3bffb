// What LibTorch this process runs on, and which device a name refers to.
#pragma once

#include <torch/torch.h>

#include "cpu_allocator.h"

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
  int intraOpThreads = 1;  // the process's budget (setIntraOpThreads)
  int interOpThreads = 1;
  CpuCacheStats cpuCache;  // the CPU caching allocator (cpu_allocator.h)
};

RuntimeInfo runtimeInfo();

// Most intra-op threads per core setIntraOpThreads accepts: more only adds
// contention, and every thread that calls into LibTorch (each libuv worker)
// gets a team of that many, so thousands exhaust the process.
constexpr int kMaxThreadsPerCore = 4;

// Sets LibTorch's intra-op thread budget for the process (0 = all cores).
// LibTorch starts with one thread in an embedded process; a conv runs ~3x
// faster with two. Calls running tensor work share the budget (ComputeThreads).
// Throws std::invalid_argument above kMaxThreadsPerCore per core.
void setIntraOpThreads(int64_t threads);

// The intra-op threads of one call's tensor work, for its duration on the
// calling thread (a libuv worker). LibTorch's OpenMP teams are per calling
// thread, so k calls running at once (several detectors, or a detector and
// an op) would each start a team of the whole budget, k × budget threads on
// budget cores; instead each call gets budget / (calls running), at least 1,
// fixed when it starts. A thread's team size is only touched when its share
// changes, not on every call.
class ComputeThreads {
 public:
  ComputeThreads();
  ~ComputeThreads();
  ComputeThreads(const ComputeThreads&) = delete;
  ComputeThreads& operator=(const ComputeThreads&) = delete;
  int threads() const { return threads_; }

 private:
  int threads_;
};

// Bytes in use on CUDA device `index` (all of it: contexts, LibTorch's
// caching allocator, other processes), or −1 without CUDA. Benchmarks take the
// growth over a baseline as the memory a run reserved.
int64_t cudaMemoryInUse(int index);

// "cpu", "cuda", "cuda:1" -> a device, or std::invalid_argument saying why it
// cannot be used (unknown name, CPU-only build, no GPU visible, index too big).
torch::Device resolveDevice(const std::string& name);

}  // namespace laxray
