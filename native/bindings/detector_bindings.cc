// The detector object: createDetector(modelConfig, device) -> NativeDetector
// with inspect, stateDict, loadStateDict and setTraining. Each call runs on a
// worker thread; one operation at a time per detector (training mutates it).
#include <cmath>
#include <memory>
#include <mutex>

#include "bindings/model_config_js.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "detector.h"
#include "runtime.h"
#include "tensor_io.h"

namespace laxray::js {
namespace {

struct DetectorSession {
  Detector model{nullptr};
  torch::Device device{torch::kCPU};
  std::mutex mutex;

};
using SessionPtr = std::shared_ptr<DetectorSession>;
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

NamedTensors toHost(const NamedTensors& tensors) {
  NamedTensors out;
  for (const auto& [name, t] : tensors) out.emplace_back(name, toHostTensor(t, name));
  return out;
}

class NativeDetector : public Napi::ObjectWrap<NativeDetector> {
 public:
  static Napi::Function DefineClass(Napi::Env env) {
    return ObjectWrap<NativeDetector>::DefineClass(
        env, "NativeDetector",
        {InstanceAccessor<&NativeDetector::Device>("device"),
         InstanceMethod<&NativeDetector::Inspect>("inspect"),
         InstanceMethod<&NativeDetector::StateDict>("stateDict"),
         InstanceMethod<&NativeDetector::LoadStateDict>("loadStateDict"),
         InstanceMethod<&NativeDetector::SetTraining>("setTraining")});
  }

  explicit NativeDetector(const Napi::CallbackInfo& info) : ObjectWrap<NativeDetector>(info) {
    if (info.Length() != 1 || !info[0].IsExternal()) {
      throw Napi::TypeError::New(info.Env(), "NativeDetector cannot be constructed directly; use createDetector()");
    }
    session_ = *info[0].As<Napi::External<SessionPtr>>().Data();
  }

  static Napi::Object NewInstance(Napi::Env env, SessionPtr session) {
    auto* owned = new SessionPtr(std::move(session));
    return env.GetInstanceData<AddonData>()->detectorConstructor.New({Napi::External<SessionPtr>::New(env, owned, [](Napi::Env, SessionPtr* p) { delete p; })});
  }

 private:
  Napi::Value Device(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), session_->device.str()); }

  // inspect(images: Float32Array, shape: [N, 3, H, W]): Promise<{name: {data, shape}}>
  Napi::Value Inspect(const Napi::CallbackInfo& info) {
    HostBuffer images = hostBufferFrom(info[0], info[1], "inspect: images");
    SessionPtr s = session_;
    return PromiseWorker<NamedTensors>::Run(
        info.Env(), "inspect",
        [s, images] {
          std::lock_guard<std::mutex> lock(s->mutex);
          torch::NoGradGuard noGrad;  // LA re-enables autograd for its own gradients
          torch::Tensor x = tensorFromHost(images, s->device, "inspect: images");
          Inspection inspection;
          s->model->forward(x, nullptr, &inspection);
          return toHost(inspection.tensors);
        },
        namedTensorsToJs, {info[0]});
  }

  // stateDict(): Promise<{name: {data, shape}}> (CPU copies; int64 buffers as int32)
  Napi::Value StateDict(const Napi::CallbackInfo& info) {
    SessionPtr s = session_;
    return PromiseWorker<NamedTensors>::Run(
        info.Env(), "stateDict",
        [s] {
          std::lock_guard<std::mutex> lock(s->mutex);
          return toHost(namedState(*s->model));
        },
        namedTensorsToJs);
  }

  // loadStateDict(entries, {module: '' | 'backbone', ignorePrefixes: string[], what: string}): Promise<void>
  Napi::Value LoadStateDict(const Napi::CallbackInfo& info) {
    std::vector<Napi::Value> keepAlive;
    auto entries = namedHostBuffersFrom(info[0], "loadStateDict: entries", keepAlive);
    Napi::Object options = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(info.Env());
    const std::string module = stringField(options, "module", "", "options");
    const std::string what = stringField(options, "what", "weights", "options");
    std::vector<std::string> ignored;
    if (options.Has("ignorePrefixes") && options.Get("ignorePrefixes").IsArray()) {
      Napi::Array list = options.Get("ignorePrefixes").As<Napi::Array>();
      for (uint32_t i = 0; i < list.Length(); ++i) ignored.push_back(list.Get(i).ToString().Utf8Value());
    }
    if (module != "" && module != "backbone") {
      throw Napi::TypeError::New(info.Env(), "loadStateDict: options.module must be '' or 'backbone'");
    }
    SessionPtr s = session_;
    return PromiseWorker<bool>::Run(
        info.Env(), "loadStateDict",
        [s, entries, module, what, ignored] {
          std::lock_guard<std::mutex> lock(s->mutex);
          std::vector<std::pair<std::string, torch::Tensor>> state;
          for (const auto& [name, host] : entries) state.emplace_back(name, tensorFromHost(host, torch::kCPU, name));
          torch::nn::Module& target = module == "backbone" ? static_cast<torch::nn::Module&>(*s->model->backbone)
                                                           : static_cast<torch::nn::Module&>(*s->model);
          loadNamedState(target, state, ignored, what);
          return true;
        },
        [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); }, keepAlive);
  }

  // setTraining(on: boolean): void — train/eval mode (frozen BN stays in eval).
  Napi::Value SetTraining(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsBoolean()) throw Napi::TypeError::New(info.Env(), "setTraining(on: boolean)");
    std::lock_guard<std::mutex> lock(session_->mutex);
    session_->model->train(info[0].As<Napi::Boolean>().Value());
    return info.Env().Undefined();
  }

  SessionPtr session_;
};

// createDetector(modelConfig, device, seed): Promise<NativeDetector>. The seed
// fixes the initial weights (LibTorch's generator is seeded first).
Napi::Value CreateDetector(const Napi::CallbackInfo& info) {
  ModelConfig config = modelConfigFrom(info[0]);
  const std::string deviceName = stringArg(info, 1, "createDetector: device");
  const double seed = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : 0;
  return PromiseWorker<SessionPtr>::Run(
      info.Env(), "createDetector",
      [config, deviceName, seed] {
        static std::mutex seedMutex;  // the generator is global: seed and build as one step
        std::lock_guard<std::mutex> seedLock(seedMutex);
        torch::manual_seed(static_cast<uint64_t>(seed));
        auto session = std::make_shared<DetectorSession>();
        session->device = resolveDevice(deviceName);
        session->model = Detector(config);
        session->model->to(session->device);
        session->model->train(false);
        return session;
      },
      [](Napi::Env env, SessionPtr& session) -> Napi::Value { return NativeDetector::NewInstance(env, session); });
}

}  // namespace

void registerDetectorBindings(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = NativeDetector::DefineClass(env);
  env.GetInstanceData<AddonData>()->detectorConstructor = Napi::Persistent(cls);
  exports.Set("NativeDetector", cls);
  exports.Set("createDetector", Napi::Function::New<CreateDetector>(env, "createDetector"));
}

}  // namespace laxray::js
