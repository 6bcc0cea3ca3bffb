// labelAwareClsLevels(levels: [{x, shape}], weight, weightShape, bias, a, b, c):
// Promise<[{xNew, w1, w2}]>. Test hook (development builds only, see
// registry.h): LAcls with pseudo labels on several levels in one call, as the
// detector runs it (native/label_aware.cc takes one gradient pass per
// objective over all levels); the tests compare it with one level at a time.
#include <string>
#include <utility>
#include <vector>

#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "label_aware.h"
#include "tensor_io.h"

namespace laxray::js {
namespace {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// The arguments, copied off the JS values.
struct LevelsArgs {
  std::vector<HostBuffer> levels;  // x per level: [N, Cin, H, W]
  HostBuffer weight;               // [C, Cin]
  HostBuffer bias;                 // [C]
  LabelAwareCoefficients k;
};

LevelsArgs levelsArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 7 || !info[0].IsArray()) throw Napi::TypeError::New(env, "labelAwareClsLevels(levels, weight, weightShape, bias, a, b, c)");
  LevelsArgs args;
  Napi::Array list = info[0].As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    const std::string what = "levels[" + std::to_string(i) + "]";
    if (!list.Get(i).IsObject()) throw Napi::TypeError::New(env, what + " must be {x, shape}");
    Napi::Object level = list.Get(i).As<Napi::Object>();
    args.levels.push_back(hostBufferFrom(level.Get("x"), level.Get("shape"), what + ".x"));
  }
  args.weight = hostBufferFrom(info[1], info[2], "weight");
  args.bias = typedArrayFrom(info[3], napi_float32_array, 0, "bias");
  args.k = {numberArg(info, 4, "a"), numberArg(info, 5, "b"), numberArg(info, 6, "c")};
  return args;
}

std::vector<NamedTensors> labelAwareClsLevels(const LevelsArgs& args) {
  torch::Tensor kernel = tensorFromHost(args.weight, torch::kCPU, "weight").unsqueeze(-1).unsqueeze(-1);
  torch::Tensor b = tensorFromHost(args.bias, torch::kCPU, "bias");
  std::vector<torch::Tensor> xs;
  for (const HostBuffer& level : args.levels) xs.push_back(tensorFromHost(level, torch::kCPU, "x"));
  auto predict = [&](const torch::Tensor& xTilde, size_t) { return torch::sigmoid(torch::conv2d(xTilde, kernel, b)); };
  std::vector<NamedTensors> out;
  for (const LabelAwareClsResult& r : labelAwareCls(xs, predict, {}, args.k)) {
    out.push_back({{"xNew", toHostTensor(r.xNew, "xNew")}, {"w1", toHostTensor(r.w1, "w1")}, {"w2", toHostTensor(r.w2, "w2")}});
  }
  return out;
}

Napi::Value LabelAwareClsLevels(const Napi::CallbackInfo& info) {
  LevelsArgs args = levelsArgs(info);
  return PromiseWorker<std::vector<NamedTensors>>::Run(
      info.Env(), "labelAwareClsLevels", [args] { return labelAwareClsLevels(args); },
      [](Napi::Env env, std::vector<NamedTensors>& levels) -> Napi::Value {
        Napi::Array out = Napi::Array::New(env, levels.size());
        for (size_t i = 0; i < levels.size(); ++i) out.Set(static_cast<uint32_t>(i), namedTensorsToJs(env, levels[i]));
        return out;
      });
}

const TestHook registration([](Napi::Env env, Napi::Object exports) {
  exports.Set("labelAwareClsLevels", Napi::Function::New<LabelAwareClsLevels>(env, "labelAwareClsLevels"));
});

}  // namespace
}  // namespace laxray::js
