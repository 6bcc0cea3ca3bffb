// One register function per binding file; addon.cc calls them all.
#pragma once

#include <napi.h>

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

}  // namespace laxray::js
