// computeThreadsProbe(ms): Promise<number>. Test hook (development builds
// only, see registry.h): holds a worker for ms milliseconds and returns the
// intra-op threads its tensor work would get (PromiseWorker's ComputeThreads).
#include <chrono>
#include <thread>

#include "bindings/promise_worker.h"
#include "bindings/registry.h"

namespace laxray::js {
namespace {

Napi::Value ComputeThreadsProbe(const Napi::CallbackInfo& info) {
  const double ms = numberArg(info, 0, "computeThreadsProbe: ms");
  return PromiseWorker<int>::Run(
      info.Env(), "computeThreadsProbe",
      [ms] {
        std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(ms));
        return at::get_num_threads();
      },
      [](Napi::Env env, int& n) -> Napi::Value { return Napi::Number::New(env, n); });
}

const TestHook registration([](Napi::Env env, Napi::Object exports) {
  exports.Set("computeThreadsProbe", Napi::Function::New<ComputeThreadsProbe>(env, "computeThreadsProbe"));
});

}  // namespace
}  // namespace laxray::js
