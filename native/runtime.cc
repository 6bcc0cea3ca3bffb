#include "runtime.h"

#include <dlfcn.h>

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

}  // namespace

RuntimeInfo runtimeInfo() {
  RuntimeInfo info;
  info.torchVersion = torchVersionString();
  info.builtWithCuda = LAXRAY_WITH_CUDA != 0;
  info.cudaAvailable = torch::cuda::is_available();
  info.deviceCount = info.cudaAvailable ? static_cast<int>(torch::cuda::device_count()) : 0;
  info.devices = queryCudaDevices(info.deviceCount);
  info.intraOpThreads = at::get_num_threads();
  info.interOpThreads = at::get_num_interop_threads();
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
  const int count = threads == 0 ? cores : static_cast<int>(threads);
  if (at::get_num_threads() != count) at::set_num_threads(count);
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
