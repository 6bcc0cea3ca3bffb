// The addon's entry: per-environment state and every binding family.
#include <napi.h>

#include <cstdlib>
#include <string>

#include "bindings/registry.h"
#include "runtime.h"

namespace {

// LibTorch starts with one intra-op thread in an embedded process; use every
// core unless LAXRAY_NUM_THREADS says otherwise.
void configureThreads(Napi::Env napiEnv) {
  const char* env = std::getenv("LAXRAY_NUM_THREADS");
  int threads = 0;
  if (env != nullptr) {
    try {
      threads = std::stoi(env);
    } catch (...) {
      threads = 0;  // a malformed value falls back to all cores; lib/native.ts validates it first
    }
  }
  try {
    laxray::setIntraOpThreads(threads < 0 ? 0 : threads);
  } catch (const std::invalid_argument& e) {
    throw Napi::Error::New(napiEnv, std::string("LAXRAY_NUM_THREADS=") + (env ? env : "") + ": " + e.what());
  }
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new laxray::js::AddonData());
  configureThreads(env);
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
