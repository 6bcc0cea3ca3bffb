#include "runtime.h"

#include <dlfcn.h>

#include <atomic>
#include <stdexcept>
#include <thread>

#include "compat.h"

namespace laxray {
namespace {

// Device names come from the CUDA driver API, opened at run time: it needs no
// CUDA headers at build time and uses the same ordinals as the CUDA runtime.
std::vector<CudaDeviceInfo> queryCudaDevices(int count) {
  std::vector<CudaDeviceInfo> devices;
  void* driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  using InitFn = int (*)(unsigned int);
  using GetFn = int (*)(int*, int);
  using NameFn = int (*)(char*, int, int);
  using MemFn = int (*)(size_t*, int);
  InitFn cuInit = driver ? reinterpret_cast<InitFn>(dlsym(driver, "cuInit")) : nullptr;
  GetFn cuDeviceGet = driver ? reinterpret_cast<GetFn>(dlsym(driver, "cuDeviceGet")) : nullptr;
  NameFn cuDeviceGetName = driver ? reinterpret_cast<NameFn>(dlsym(driver, "cuDeviceGetName")) : nullptr;
  MemFn cuDeviceTotalMem = driver ? reinterpret_cast<MemFn>(dlsym(driver, "cuDeviceTotalMem_v2")) : nullptr;
  const bool usable = cuInit && cuDeviceGet && cuDeviceGetName && cuInit(0) == 0;
  for (int i = 0; i < count; ++i) {
    CudaDeviceInfo info;
    info.index = i;
    info.name = "cuda:" + std::to_string(i);
    int handle = 0;
    if (usable && cuDeviceGet(&handle, i) == 0) {
      char name[256] = {0};
      if (cuDeviceGetName(name, sizeof(name) - 1, handle) == 0) info.name = name;
      size_t bytes = 0;
      if (cuDeviceTotalMem && cuDeviceTotalMem(&bytes, handle) == 0) info.totalMemoryBytes = static_cast<int64_t>(bytes);
    }
    devices.push_back(info);
  }
  return devices;  // the driver stays loaded: LibTorch holds it open anyway
}

std::atomic<int> threadBudget{1};  // setIntraOpThreads
std::atomic<int> runningCalls{0};  // ComputeThreads alive now
thread_local int threadsOfThisThread = 0;  // team size last applied on this thread (0: never)

// OpenMP's per-thread team size. Looked up at run time: LibTorch brings the
// OpenMP runtime it was built with; a build without OpenMP has one shared
// thread pool, where a per-thread size neither exists nor is needed.
using OmpSetNumThreads = void (*)(int);
OmpSetNumThreads ompSetNumThreads() {
  static const OmpSetNumThreads fn = reinterpret_cast<OmpSetNumThreads>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  return fn;
}

void* cudaDriver() {
  static void* driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  return driver;
}

}  // namespace

int64_t cudaMemoryInUse(int index) {
  void* driver = cudaDriver();
  if (!driver || !torch::cuda::is_available() || index < 0 || index >= static_cast<int>(torch::cuda::device_count())) return -1;
  using GetFn = int (*)(int*, int);
  using RetainFn = int (*)(void**, int);
  using ReleaseFn = int (*)(int);
  using PushFn = int (*)(void*);
  using PopFn = int (*)(void**);
  using MemFn = int (*)(size_t*, size_t*);
  auto cuDeviceGet = reinterpret_cast<GetFn>(dlsym(driver, "cuDeviceGet"));
  auto retain = reinterpret_cast<RetainFn>(dlsym(driver, "cuDevicePrimaryCtxRetain"));
  auto release = reinterpret_cast<ReleaseFn>(dlsym(driver, "cuDevicePrimaryCtxRelease_v2"));
  auto push = reinterpret_cast<PushFn>(dlsym(driver, "cuCtxPushCurrent_v2"));
  auto pop = reinterpret_cast<PopFn>(dlsym(driver, "cuCtxPopCurrent_v2"));
  auto memInfo = reinterpret_cast<MemFn>(dlsym(driver, "cuMemGetInfo_v2"));
  int device = 0;
  void* context = nullptr;
  if (!cuDeviceGet || !retain || !release || !push || !pop || !memInfo || cuDeviceGet(&device, index) != 0 ||
      retain(&context, device) != 0) {
    return -1;
  }
  size_t free = 0, total = 0;
  int64_t used = -1;
  if (push(context) == 0) {
    if (memInfo(&free, &total) == 0) used = static_cast<int64_t>(total - free);
    void* popped = nullptr;
    pop(&popped);
  }
  release(device);
  return used;
}

ComputeThreads::ComputeThreads() {
  const int running = runningCalls.fetch_add(1) + 1;
  threads_ = std::max(1, threadBudget.load() / running);
  if (threads_ == threadsOfThisThread) return;
  at::get_num_threads();  // LibTorch's lazy per-thread set-up first, so it cannot undo the size set below
  if (OmpSetNumThreads set = ompSetNumThreads()) set(threads_);
  threadsOfThisThread = threads_;
}

ComputeThreads::~ComputeThreads() { runningCalls.fetch_sub(1); }

RuntimeInfo runtimeInfo() {
  RuntimeInfo info;
  info.torchVersion = torchVersionString();
  info.builtWithCuda = LAXRAY_WITH_CUDA != 0;
  info.cudaAvailable = torch::cuda::is_available();
  info.deviceCount = info.cudaAvailable ? static_cast<int>(torch::cuda::device_count()) : 0;
  info.devices = queryCudaDevices(info.deviceCount);
  info.intraOpThreads = threadBudget.load();
  info.interOpThreads = at::get_num_interop_threads();
  info.cpuCache = cpuCacheStats();
  return info;
}

void setIntraOpThreads(int64_t threads) {
  if (threads < 0) throw std::invalid_argument("thread count must be >= 0 (0 = all cores), got " + std::to_string(threads));
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int64_t most = static_cast<int64_t>(kMaxThreadsPerCore) * cores;
  if (threads > most) {
    throw std::invalid_argument(std::to_string(threads) + " intra-op threads is more than " + std::to_string(kMaxThreadsPerCore) +
                                " per core: this machine has " + std::to_string(cores) + " core(s), so use at most " +
                                std::to_string(most) + " (or 0 for one per core)");
  }
  const int budget = threads == 0 ? cores : static_cast<int>(threads);
  if (at::get_num_threads() != budget) at::set_num_threads(budget);  // this thread, and LibTorch's default for threads it sets up later
  threadBudget.store(budget);
  threadsOfThisThread = budget;
}

torch::Device resolveDevice(const std::string& name) {
  if (name == "cpu") return torch::Device(torch::kCPU);
  if (name.rfind("cuda", 0) != 0) {
    throw std::invalid_argument("unknown device '" + name + "': use 'cpu', 'cuda' or 'cuda:<index>'");
  }
  int index = 0;
  if (name.size() > 4) {
    if (name[4] != ':' || name.size() == 5 || name.find_first_not_of("0123456789", 5) != std::string::npos) {
      throw std::invalid_argument("unknown device '" + name + "': use 'cpu', 'cuda' or 'cuda:<index>'");
    }
    index = std::stoi(name.substr(5));
  }
  if (LAXRAY_WITH_CUDA == 0) {
    throw std::invalid_argument("device '" + name + "' requested, but this laxray build links a CPU-only LibTorch (" +
                                torchVersionString() +
                                "). Rebuild with LIBTORCH pointing at a CUDA LibTorch or a python torch "
                                "package with CUDA (npm run build), or use device 'cpu'.");
  }
  if (!torch::cuda::is_available()) {
    throw std::invalid_argument("device '" + name +
                                "' requested, but no CUDA device is visible (check the driver, nvidia-smi and "
                                "CUDA_VISIBLE_DEVICES), or use device 'cpu'.");
  }
  const int count = static_cast<int>(torch::cuda::device_count());
  if (index >= count) {
    throw std::invalid_argument("device '" + name + "' requested, but only " + std::to_string(count) +
                                " CUDA device(s) are visible (cuda:0 .. cuda:" + std::to_string(count - 1) + ")");
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace laxray
