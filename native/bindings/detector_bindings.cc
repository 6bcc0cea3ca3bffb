// The detector object: createDetector(modelConfig, device) -> NativeDetector
// with inspect, detect, trainStep, stateDict, ... Each tensor call copies its
// typed-array arguments on the JS thread, then runs on a worker thread, one
// operation at a time per detector (training mutates it). lib/detector.ts
// queues calls so that they reach this lock one at a time, in call order; the
// lock guards direct users of the addon. The settings (setTraining,
// configureOptimizer, attachProcessGroup) never wait for it: operations read
// them when they start.
#include <atomic>
#include <cmath>
#include <memory>
#include <mutex>
#include <sstream>
#include <utility>

#include "bindings/detections_js.h"
#include "bindings/distributed_bindings.h"
#include "bindings/model_config_js.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "detector.h"
#include "distributed/state_sync.h"
#include "inference.h"
#include "runtime.h"
#include "tensor_io.h"
#include "trainer.h"

namespace laxray::js {
namespace {

struct DetectorSession {
  Detector model{nullptr};
  torch::Device device{torch::kCPU};
  std::unique_ptr<Trainer> trainer;  // made on the first step (holds the momentum buffers)
  std::mutex mutex;                  // model and trainer: one operation at a time

  std::atomic<bool> training{false};  // mode of inspect(); detect() is always eval, trainStep() train
  std::mutex settingsMutex;          // trainerOptions and group only: held for a copy, never during tensor work
  TrainerOptions trainerOptions;
  std::shared_ptr<DataParallelGroup> group;  // data-parallel training: the job's other processes

  TrainerOptions currentTrainerOptions() {
    std::lock_guard<std::mutex> lock(settingsMutex);
    return trainerOptions;
  }

  // The group an operation uses from its start to its end (a detach meanwhile does not free it).
  std::shared_ptr<DataParallelGroup> currentGroup() {
    std::lock_guard<std::mutex> lock(settingsMutex);
    return group;
  }

  // Call with `mutex` held: the trainer, with the latest settings.
  Trainer& ensureTrainer() {
    if (!trainer) trainer = std::make_unique<Trainer>(model, currentTrainerOptions());
    trainer->setOptions(currentTrainerOptions());
    return *trainer;
  }
};
using SessionPtr = std::shared_ptr<DetectorSession>;
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

NamedTensors toHost(const NamedTensors& tensors) {
  NamedTensors out;
  for (const auto& [name, t] : tensors) out.emplace_back(name, toHostTensor(t, name));
  return out;
}

// Puts the model in train or eval mode for one operation and back into the
// mode it was in afterwards, also when the operation throws (an inspect() in
// eval mode between steps must not leave BN in eval, nor the reverse).
class ModeFor {
 public:
  ModeFor(DetectorImpl& model, bool training) : model_(model), previous_(model.is_training()) { model_.train(training); }
  ~ModeFor() { model_.train(previous_); }
  ModeFor(const ModeFor&) = delete;
  ModeFor& operator=(const ModeFor&) = delete;

 private:
  DetectorImpl& model_;
  const bool previous_;
};

// As JavaScript prints it (NaN, Infinity), for messages.
std::string numberText(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  std::ostringstream out;
  out << value;
  return out.str();
}

// trainStep(images, shape, targets, lr)'s arguments, copied off the JS values.
struct TrainStepArgs {
  HostBuffer images;
  std::vector<std::pair<HostBuffer, HostBuffer>> targets;  // per image: boxes [K, 4], labels [K]
  std::vector<std::pair<int64_t, int64_t>> extents;        // per image: padWidth, padHeight (0: the whole batch)
  std::vector<std::pair<int64_t, int64_t>> contents;       // per image: width, height resized (uint8 images: the rest is padding; 0: the whole batch)
  double lr = 0;
};

TrainStepArgs trainStepArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TrainStepArgs args;
  args.images = hostBufferFrom(info[0], info[1], "trainStep: images");
  if (!info[2].IsArray()) throw Napi::TypeError::New(env, "trainStep: targets must be an array of {boxes, labels}");
  Napi::Array list = info[2].As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    const std::string what = "trainStep: targets[" + std::to_string(i) + "]";
    if (!list.Get(i).IsObject()) throw Napi::TypeError::New(env, what + " must be {boxes, labels}");
    Napi::Object t = list.Get(i).As<Napi::Object>();
    HostBuffer boxes = typedArrayFrom(t.Get("boxes"), napi_float32_array, 4, what + ".boxes");
    HostBuffer labels = typedArrayFrom(t.Get("labels"), napi_int32_array, 0, what + ".labels");
    if (boxes.shape[0] != labels.shape[0]) {
      throw Napi::TypeError::New(env, what + " has " + std::to_string(boxes.shape[0]) + " boxes but " +
                                          std::to_string(labels.shape[0]) + " labels (one label per box)");
    }
    args.targets.emplace_back(std::move(boxes), std::move(labels));
    args.extents.emplace_back(static_cast<int64_t>(numberField(t, "padWidth", 0, what)),
                              static_cast<int64_t>(numberField(t, "padHeight", 0, what)));
    args.contents.emplace_back(static_cast<int64_t>(numberField(t, "width", 0, what)),
                               static_cast<int64_t>(numberField(t, "height", 0, what)));
  }
  args.lr = numberArg(info, 3, "trainStep: lr");
  if (!(args.lr >= 0) || !std::isfinite(args.lr)) {
    throw Napi::TypeError::New(env, "trainStep: lr must be a finite number >= 0, got " + numberText(args.lr));
  }
  return args;
}

// detect(images, shape, metas)'s arguments, copied off the JS values.
struct DetectArgs {
  HostBuffer images;
  std::vector<ImageMeta> metas;
};

DetectArgs detectArgs(const Napi::CallbackInfo& info) {
  DetectArgs args;
  args.images = hostBufferFrom(info[0], info[1], "detect: images");
  args.metas = imageMetasFrom(info[2], "detect: metas");
  return args;
}

// {momentum, weightDecay, gradClipNorm} with the config schema's rules
// (lib/config/schema.ts train.*): a bad value would turn every weight NaN.
TrainerOptions trainerOptionsFrom(const Napi::Value& value) {
  Napi::Env env = value.Env();
  if (!value.IsObject()) throw Napi::TypeError::New(env, "configureOptimizer(options: object)");
  Napi::Object o = value.As<Napi::Object>();
  TrainerOptions options;
  options.sgd.momentum = numberField(o, "momentum", options.sgd.momentum, "optimizer");
  if (!(options.sgd.momentum >= 0 && options.sgd.momentum < 1)) {
    throw Napi::TypeError::New(env, "optimizer.momentum must be a number in [0, 1), got " + numberText(options.sgd.momentum));
  }
  options.sgd.weightDecay = numberField(o, "weightDecay", options.sgd.weightDecay, "optimizer");
  if (!(options.sgd.weightDecay >= 0) || !std::isfinite(options.sgd.weightDecay)) {
    throw Napi::TypeError::New(env, "optimizer.weightDecay must be a finite number >= 0, got " + numberText(options.sgd.weightDecay));
  }
  Napi::Value clip = o.Has("gradClipNorm") ? o.Get("gradClipNorm") : env.Null();
  if (!clip.IsNull() && !clip.IsUndefined()) {
    const double norm = clip.IsNumber() ? clip.As<Napi::Number>().DoubleValue() : std::nan("");
    if (!(norm > 0) || !std::isfinite(norm)) {
      throw Napi::TypeError::New(env, "optimizer.gradClipNorm must be null (no clipping) or a finite number > 0");
    }
    options.gradClipNorm = norm;
  }
  return options;
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
         InstanceMethod<&NativeDetector::SetTraining>("setTraining"),
         InstanceMethod<&NativeDetector::TrainStep>("trainStep"),
         InstanceMethod<&NativeDetector::Detect>("detect"),
         InstanceMethod<&NativeDetector::ConfigureOptimizer>("configureOptimizer"),
         InstanceMethod<&NativeDetector::OptimizerState>("optimizerState"),
         InstanceMethod<&NativeDetector::LoadOptimizerState>("loadOptimizerState"),
         InstanceMethod<&NativeDetector::AttachProcessGroup>("attachProcessGroup"),
         InstanceMethod<&NativeDetector::BroadcastTrainingState>("broadcastTrainingState")});
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
          // Uploaded before taking the lock: a running call on this detector keeps computing meanwhile.
          torch::Tensor x = imagesToDevice(tensorFromHost(images, torch::kCPU, "inspect: images"), s->device, {},
                                           s->model->execution().pixels);
          std::lock_guard<std::mutex> lock(s->mutex);
          torch::NoGradGuard noGrad;  // LA re-enables autograd for its own gradients
          PrecisionScope precision(s->model->execution(), s->device);
          ModeFor mode(*s->model, s->training.load());
          Inspection inspection;
          s->model->forward(x, nullptr, &inspection);
          return toHost(inspection.tensors);
        },
        namedTensorsToJs);
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
    auto entries = namedHostBuffersFrom(info[0], "loadStateDict: entries");
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
        [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
  }

  // setTraining(on: boolean): void — the mode inspect() runs in (frozen BN
  // stays in eval); detect() always runs in eval mode, trainStep() in train mode.
  Napi::Value SetTraining(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsBoolean()) throw Napi::TypeError::New(info.Env(), "setTraining(on: boolean)");
    session_->training.store(info[0].As<Napi::Boolean>().Value());
    return info.Env().Undefined();
  }

  // trainStep(images, shape, targets: [{boxes: Float32Array, labels: Int32Array, padWidth?, padHeight?, width?, height?}], lr): Promise<StepResult>
  // images: Float32Array normalised, or Uint8Array raw RGB (normalised on the device).
  // padWidth/padHeight: the image's extent in the batch (mmdetection's pad_shape); absent: the whole batch.
  // width/height: the image's resized size, for uint8 images (their padding becomes 0); absent: the whole batch.
  Napi::Value TrainStep(const Napi::CallbackInfo& info) {
    TrainStepArgs args = trainStepArgs(info);
    SessionPtr s = session_;
    return PromiseWorker<TrainStepResult>::Run(
        info.Env(), "trainStep",
        [s, args] {
          // Uploaded before taking the lock: a running call on this detector keeps computing meanwhile.
          torch::Tensor host = tensorFromHost(args.images, torch::kCPU, "trainStep: images");
          std::vector<std::pair<int64_t, int64_t>> sizes;
          for (const auto& [w, h] : args.contents) sizes.emplace_back(w > 0 ? w : host.size(-1), h > 0 ? h : host.size(-2));
          torch::Tensor x = imagesToDevice(host, s->device, sizes, s->model->execution().pixels);
          std::lock_guard<std::mutex> lock(s->mutex);
          std::vector<GroundTruth> gt;
          for (size_t i = 0; i < args.targets.size(); ++i) {
            // On the host: checked there, then moved to the device padded, in one copy (buildTargets).
            const auto& [boxes, labels] = args.targets[i];
            gt.push_back({tensorFromHost(boxes, torch::kCPU, "boxes"), tensorFromHost(labels, torch::kCPU, "labels").to(torch::kLong),
                          args.extents[i].first, args.extents[i].second});
          }
          const std::shared_ptr<DataParallelGroup> group = s->currentGroup();
          return s->ensureTrainer().step(x, gt, args.lr, group.get());
        },
        [](Napi::Env env, TrainStepResult& r) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          Napi::Object losses = Napi::Object::New(env);
          for (const auto& [name, value] : r.losses) losses.Set(name, value);
          out.Set("losses", losses);
          out.Set("total", r.total);
          out.Set("finite", r.finite);
          out.Set("numPositives", static_cast<double>(r.numPositive));
          out.Set("images", static_cast<double>(r.images));
          out.Set("gradNorm", r.gradNorm);
          return out;
        });
  }

  // detect(images, shape, metas: [{inputWidth, inputHeight, scaleX, scaleY, originalWidth, originalHeight}]):
  //   Promise<[{boxes: Float32Array (K×4), scores: Float32Array, labels: Int32Array}]>
  Napi::Value Detect(const Napi::CallbackInfo& info) {
    DetectArgs args = detectArgs(info);
    SessionPtr s = session_;
    return PromiseWorker<std::vector<HostDetections>>::Run(
        info.Env(), "detect",
        [s, args] {
          std::vector<std::pair<int64_t, int64_t>> sizes;  // uint8 images: each image's content in its slot
          for (const ImageMeta& m : args.metas) {
            sizes.emplace_back(static_cast<int64_t>(std::ceil(m.inputWidth)), static_cast<int64_t>(std::ceil(m.inputHeight)));
          }
          torch::Tensor x = imagesToDevice(tensorFromHost(args.images, torch::kCPU, "detect: images"), s->device, sizes,
                                           s->model->execution().pixels);
          std::lock_guard<std::mutex> lock(s->mutex);
          return detectionsToHost(detectBatch(*s->model, x, args.metas));
        },
        [](Napi::Env env, std::vector<HostDetections>& result) -> Napi::Value { return detectionsToJs(env, result); });
  }

  // configureOptimizer({momentum, weightDecay, gradClipNorm}): void — for the
  // steps that start after it (checked like the config: TypeError naming the field).
  Napi::Value ConfigureOptimizer(const Napi::CallbackInfo& info) {
    TrainerOptions options = trainerOptionsFrom(info.Length() > 0 ? info[0] : info.Env().Undefined());
    std::lock_guard<std::mutex> lock(session_->settingsMutex);
    session_->trainerOptions = options;
    return info.Env().Undefined();
  }

  // optimizerState(): Promise<{name: {data, shape}}> (momentum buffers by parameter; fp16: the loss scaler)
  Napi::Value OptimizerState(const Napi::CallbackInfo& info) {
    SessionPtr s = session_;
    return PromiseWorker<NamedTensors>::Run(
        info.Env(), "optimizerState",
        [s] {
          std::lock_guard<std::mutex> lock(s->mutex);
          return toHost(s->ensureTrainer().optimizerState());
        },
        namedTensorsToJs);
  }

  // loadOptimizerState(entries): Promise<void>
  Napi::Value LoadOptimizerState(const Napi::CallbackInfo& info) {
    auto entries = namedHostBuffersFrom(info[0], "loadOptimizerState: entries");
    SessionPtr s = session_;
    return PromiseWorker<bool>::Run(
        info.Env(), "loadOptimizerState",
        [s, entries] {
          std::lock_guard<std::mutex> lock(s->mutex);
          std::vector<std::pair<std::string, torch::Tensor>> state;
          for (const auto& [name, host] : entries) state.emplace_back(name, tensorFromHost(host, s->device, name));
          s->ensureTrainer().loadOptimizerState(std::move(state));
          return true;
        },
        [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
  }

  // attachProcessGroup(group | null): void — the trainStep calls that start
  // after it average over the group's processes (a setting: no model lock).
  Napi::Value AttachProcessGroup(const Napi::CallbackInfo& info) {
    std::shared_ptr<DataParallelGroup> group = processGroupFrom(info.Length() > 0 ? info[0] : info.Env().Null(), "attachProcessGroup: group");
    if (group && group->device() != session_->device) {
      throw Napi::TypeError::New(info.Env(), "attachProcessGroup: the group's processes train on " + group->device().str() +
                                                 " but this detector is on " + session_->device.str());
    }
    std::lock_guard<std::mutex> lock(session_->settingsMutex);
    session_->group = std::move(group);
    return info.Env().Undefined();
  }

  // broadcastTrainingState(): Promise<void> — rank 0's weights and momentum into every rank (collective).
  Napi::Value BroadcastTrainingState(const Napi::CallbackInfo& info) {
    SessionPtr s = session_;
    return PromiseWorker<bool>::Run(
        info.Env(), "broadcastTrainingState",
        [s] {
          std::lock_guard<std::mutex> lock(s->mutex);
          const std::shared_ptr<DataParallelGroup> group = s->currentGroup();
          if (!group) throw std::invalid_argument("no process group is attached (attachProcessGroup)");
          broadcastTrainingState(*group, *s->model, s->ensureTrainer().optimizer());
          return true;
        },
        [](Napi::Env env, bool&) -> Napi::Value { return env.Undefined(); });
  }

  SessionPtr session_;
};

// createDetector(modelConfig, device, seed): Promise<NativeDetector>. The seed
// fixes the initial weights (LibTorch's generator is seeded first).
Napi::Value CreateDetector(const Napi::CallbackInfo& info) {
  ModelConfig config = modelConfigFrom(info[0]);
  const std::string deviceName = stringArg(info, 1, "createDetector: device");
  const double seed = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : 0;
  const ExecutionConfig execution = executionConfigFrom(info[3]);
  return PromiseWorker<SessionPtr>::Run(
      info.Env(), "createDetector",
      [config, deviceName, seed, execution] {
        static std::mutex seedMutex;  // the generator is global: seed and build as one step
        std::lock_guard<std::mutex> seedLock(seedMutex);
        torch::manual_seed(static_cast<uint64_t>(seed));
        auto session = std::make_shared<DetectorSession>();
        session->device = resolveDevice(deviceName);
        session->model = Detector(config);
        session->model->to(session->device);
        session->model->setExecution(execution, session->device);
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
