// The addon's entry: per-environment state and every binding family.
#include <napi.h>

#include <cstdlib>
#include <string>

#include "bindings/registry.h"
#include "cpu_allocator.h"
#include "runtime.h"

namespace {

// LibTorch starts with one intra-op thread in an embedded process; use every
// core unless LAXRAY_NUM_THREADS says otherwise.
void configureThreads(Napi::Env napiEnv) {
  const char* env = std::getenv("LAXRAY_NUM_THREADS");
  int64_t threads = 0;
  if (env != nullptr && *env != '\0') {
    try {
      threads = std::stoll(env);  // a huge count is refused below, not wrapped
    } catch (...) {
      threads = 0;  // a malformed value falls back to all cores; lib/native.ts refuses one first
    }
  }
  try {
    laxray::setIntraOpThreads(threads < 0 ? 0 : threads);
  } catch (const std::invalid_argument& e) {
    throw Napi::Error::New(napiEnv, std::string("LAXRAY_NUM_THREADS=") + (env ? env : "") + ": " + e.what());
  }
}

// The CPU block cache (cpu_allocator.h) holds at most LAXRAY_CPU_CACHE_MB, by
// default a quarter of the memory this process may use.
void configureCpuCache(Napi::Env napiEnv) {
  const char* env = std::getenv("LAXRAY_CPU_CACHE_MB");
  int64_t limitBytes = laxray::defaultCpuCacheLimit();
  if (env != nullptr && *env != '\0') {
    const std::string value(env);
    const bool digits = !value.empty() && value.size() <= 12 && value.find_first_not_of("0123456789") == std::string::npos;
    if (!digits) throw Napi::Error::New(napiEnv, "LAXRAY_CPU_CACHE_MB=" + value + ": expected a whole number of MiB (0 turns the cache off)");
    limitBytes = std::stoll(value) << 20;
  }
  laxray::installCpuCachingAllocator();
  laxray::setCpuCacheLimit(limitBytes);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new laxray::js::AddonData());
  configureThreads(env);
  configureCpuCache(env);
  laxray::js::registerRuntimeBindings(env, exports);
  laxray::js::registerTensorBindings(env, exports);
  laxray::js::registerDetectorBindings(env, exports);
  laxray::js::registerLabelAwareBindings(env, exports);
  laxray::js::registerOpsBindings(env, exports);
  laxray::js::registerDistributedBindings(env, exports);
  for (laxray::js::RegisterFunction registerHook : laxray::js::testHookRegistry()) registerHook(env, exports);
  return exports;
}

}  // namespace

namespace laxray::js {

std::vector<RegisterFunction>& testHookRegistry() {
  static std::vector<RegisterFunction> hooks;  // filled before Init: the hooks' static TestHooks run at load
  return hooks;
}

}  // namespace laxray::js

NODE_API_MODULE(laxray, Init)
