// runtimeInfo(), setIntraOpThreads(n), setCpuCacheLimit(bytes), emptyCpuCache()
// and cudaMemoryInUse(index).
#include <algorithm>
#include <cmath>

#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "runtime.h"

namespace laxray::js {
namespace {

Napi::Value RuntimeInfoToJs(Napi::Env env, RuntimeInfo& info) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("torchVersion", info.torchVersion);
  out.Set("builtWithCuda", info.builtWithCuda);
  out.Set("cudaAvailable", info.cudaAvailable);
  out.Set("deviceCount", info.deviceCount);
  Napi::Array devices = Napi::Array::New(env, info.devices.size());
  for (size_t i = 0; i < info.devices.size(); ++i) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("index", info.devices[i].index);
    d.Set("name", info.devices[i].name);
    d.Set("totalMemoryBytes", static_cast<double>(info.devices[i].totalMemoryBytes));
    devices.Set(static_cast<uint32_t>(i), d);
  }
  out.Set("devices", devices);
  out.Set("intraOpThreads", info.intraOpThreads);
  out.Set("interOpThreads", info.interOpThreads);
  Napi::Object cache = Napi::Object::New(env);
  cache.Set("limitBytes", static_cast<double>(info.cpuCache.limitBytes));
  cache.Set("cachedBytes", static_cast<double>(info.cpuCache.cachedBytes));
  cache.Set("hits", static_cast<double>(info.cpuCache.hits));
  cache.Set("misses", static_cast<double>(info.cpuCache.misses));
  out.Set("cpuCache", cache);
  return out;
}

// setCpuCacheLimit(bytes): at most this many bytes of freed CPU blocks kept for reuse (0: none).
Napi::Value SetCpuCacheLimit(const Napi::CallbackInfo& info) {
  const double bytes = numberArg(info, 0, "setCpuCacheLimit: bytes");
  if (!(bytes >= 0) || std::floor(bytes) != bytes || bytes > 9.0e15) {
    throw Napi::TypeError::New(info.Env(), "setCpuCacheLimit: bytes must be an integer >= 0 (0 turns the cache off)");
  }
  setCpuCacheLimit(static_cast<int64_t>(bytes));
  return info.Env().Undefined();
}

// emptyCpuCache(): gives the cached CPU blocks back to the system.
Napi::Value EmptyCpuCache(const Napi::CallbackInfo& info) {
  emptyCpuCache();
  return info.Env().Undefined();
}

// runtimeInfo(): Promise<RuntimeInfo> (async: the first CUDA query can take a while).
Napi::Value GetRuntimeInfo(const Napi::CallbackInfo& info) {
  return PromiseWorker<RuntimeInfo>::Run(info.Env(), "runtimeInfo", [] { return runtimeInfo(); }, RuntimeInfoToJs);
}

// setIntraOpThreads(n): n = 0 means all cores; at most kMaxThreadsPerCore per core.
Napi::Value SetIntraOpThreads(const Napi::CallbackInfo& info) {
  const double n = numberArg(info, 0, "setIntraOpThreads: threads");
  if (!(n >= 0) || std::floor(n) != n) {
    throw Napi::TypeError::New(info.Env(), "setIntraOpThreads: threads must be an integer >= 0 (0 = all cores)");
  }
  try {
    setIntraOpThreads(static_cast<int64_t>(std::min(n, 1e15)));
  } catch (const std::invalid_argument& e) {
    throw Napi::TypeError::New(info.Env(), e.what());
  }
  return info.Env().Undefined();
}

// cudaMemoryInUse(index): Promise<number> bytes in use on the device, −1 without CUDA.
Napi::Value CudaMemoryInUse(const Napi::CallbackInfo& info) {
  const double index = numberArg(info, 0, "cudaMemoryInUse: index");
  return PromiseWorker<int64_t>::Run(
      info.Env(), "cudaMemoryInUse",
      [index] {
        if (!torch::cuda::is_available()) return int64_t{-1};
        torch::cuda::synchronize(static_cast<int64_t>(index));
        return cudaMemoryInUse(static_cast<int>(index));
      },
      [](Napi::Env env, int64_t& bytes) -> Napi::Value { return Napi::Number::New(env, static_cast<double>(bytes)); });
}

}  // namespace

void registerRuntimeBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("runtimeInfo", Napi::Function::New<GetRuntimeInfo>(env, "runtimeInfo"));
  exports.Set("setIntraOpThreads", Napi::Function::New<SetIntraOpThreads>(env, "setIntraOpThreads"));
  exports.Set("setCpuCacheLimit", Napi::Function::New<SetCpuCacheLimit>(env, "setCpuCacheLimit"));
  exports.Set("emptyCpuCache", Napi::Function::New<EmptyCpuCache>(env, "emptyCpuCache"));
  exports.Set("cudaMemoryInUse", Napi::Function::New<CudaMemoryInUse>(env, "cudaMemoryInUse"));
}

}  // namespace laxray::js
