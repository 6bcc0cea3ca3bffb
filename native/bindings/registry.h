// One register function per binding file; addon.cc calls them all.
#pragma once

#include <napi.h>

#include <vector>

namespace laxray::js {

// Per-environment state (worker threads each get their own).
struct AddonData {
  Napi::FunctionReference tensorHandleConstructor;
  Napi::FunctionReference detectorConstructor;
  Napi::FunctionReference processGroupConstructor;
};

void registerRuntimeBindings(Napi::Env env, Napi::Object exports);
void registerTensorBindings(Napi::Env env, Napi::Object exports);
void registerDetectorBindings(Napi::Env env, Napi::Object exports);
void registerLabelAwareBindings(Napi::Env env, Napi::Object exports);
void registerOpsBindings(Napi::Env env, Napi::Object exports);
void registerDistributedBindings(Napi::Env env, Napi::Object exports);

// Test hooks: bindings only tests call (native/bindings/test_hooks/), compiled
// into development builds only (binding.gyp's laxray_test_hooks; the release
// binary leaves them out). Each hook file registers itself at load with a
// static TestHook; addon.cc adds them all to the exports, so a release build
// simply has none.
using RegisterFunction = void (*)(Napi::Env env, Napi::Object exports);
std::vector<RegisterFunction>& testHookRegistry();

struct TestHook {
  explicit TestHook(RegisterFunction registerHook) { testHookRegistry().push_back(registerHook); }
};

}  // namespace laxray::js
