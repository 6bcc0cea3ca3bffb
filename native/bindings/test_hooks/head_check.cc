// headCheck(spec, device?): Promise<HeadCheckResult>. Test hook (development
// builds only, see registry.h): the head-side math on head outputs given as
// typed arrays, generateAnchors → buildTargets → computeLosses (+ backward) →
// postprocess, with every intermediate the tests check. The spec and result
// are typed in lib/native.ts (NativeHeadCheckSpec, NativeHeadCheckResult).
#include <string>
#include <utility>
#include <vector>

#include "anchors.h"
#include "assigner.h"
#include "bindings/detections_js.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "head_outputs.h"
#include "losses.h"
#include "postprocess.h"
#include "runtime.h"
#include "tensor_io.h"

namespace laxray::js {
namespace {

const std::string kSpec = "headCheck: spec";

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// headCheck(spec, device)'s arguments, copied off the JS values.
struct HeadCheckArgs {
  int64_t batch = 0;
  int64_t numClasses = 0;
  int64_t regMax = 0;
  double anchorScale = 0;
  RegressionKind regression = RegressionKind::Delta;
  QualityTarget qualityTarget = QualityTarget::Centerness;
  std::vector<int64_t> strides;
  std::vector<std::pair<int64_t, int64_t>> featureSizes;  // per level: height, width
  std::vector<int64_t> padSizes;                          // per image: width, height of its extent; empty: all valid
  HostBuffer clsLogits;      // [N·A·C]
  HostBuffer boxRegression;  // [N·A·4] (delta) or [N·A·4·(R+1)] (distribution)
  HostBuffer qualityLogits;  // [N·A]
  std::vector<HostBuffer> gtBoxes;   // per image: [K, 4]
  std::vector<HostBuffer> gtLabels;  // per image: [K]
  std::vector<ImageMeta> metas;      // empty: no post-processing
  PostprocessConfig postprocess;
  std::string device;
};

// What the tests read; every tensor a host copy.
struct HeadCheckResult {
  std::vector<std::pair<std::string, double>> losses;
  int64_t numPositive = 0;
  double qualityWeightSum = 0;
  double qualityFloor = 0;
  std::vector<std::pair<std::string, double>> gradNorms;  // of the total loss w.r.t. each head output
  bool gradsFinite = true;
  NamedTensors targets;
  std::vector<HostDetections> detections;
};

// ---- arguments (JS thread) ----

RegressionKind regressionFrom(const Napi::Object& spec) {
  Napi::Value v = requiredField(spec, "regression", kSpec);
  const std::string kind = v.IsString() ? v.As<Napi::String>().Utf8Value() : "";
  if (kind != "delta" && kind != "distribution") {
    throw Napi::TypeError::New(spec.Env(), kSpec + ".regression must be 'delta' or 'distribution'");
  }
  return kind == "distribution" ? RegressionKind::Distribution : RegressionKind::Delta;
}

// Absent: as the head would choose (IoU for the distribution head, centerness for delta).
QualityTarget qualityTargetFrom(const Napi::Object& spec, RegressionKind regression) {
  const std::string fallback = regression == RegressionKind::Distribution ? "iou" : "centerness";
  const std::string target = stringField(spec, "qualityTarget", fallback, kSpec);
  if (target != "iou" && target != "centerness") {
    throw Napi::TypeError::New(spec.Env(), kSpec + ".qualityTarget must be 'iou' or 'centerness'");
  }
  return target == "iou" ? QualityTarget::Iou : QualityTarget::Centerness;
}

// featureSizes lists height, width per level: one pair per stride.
std::vector<std::pair<int64_t, int64_t>> featureSizesFrom(const Napi::Object& spec, size_t levels) {
  const std::vector<int64_t> flat = shapeFrom(requiredField(spec, "featureSizes", kSpec), kSpec + ".featureSizes");
  if (flat.size() != 2 * levels) {
    throw Napi::TypeError::New(spec.Env(), kSpec + ".featureSizes must list height, width per level (one level per stride)");
  }
  std::vector<std::pair<int64_t, int64_t>> sizes;
  for (size_t l = 0; l < levels; ++l) sizes.emplace_back(flat[2 * l], flat[2 * l + 1]);
  return sizes;
}

// One typed array per image; `columns` as in typedArrayFrom.
std::vector<HostBuffer> perImageArrays(const Napi::Object& spec, const char* key, napi_typedarray_type type, int64_t columns) {
  const std::string what = kSpec + "." + key;
  Napi::Value value = requiredField(spec, key, kSpec);
  if (!value.IsArray()) throw Napi::TypeError::New(spec.Env(), what + " must be an array (one entry per image)");
  Napi::Array list = value.As<Napi::Array>();
  std::vector<HostBuffer> out;
  for (uint32_t i = 0; i < list.Length(); ++i) out.push_back(typedArrayFrom(list.Get(i), type, columns, what + "[" + std::to_string(i) + "]"));
  return out;
}

// Overrides of PostprocessConfig's defaults.
PostprocessConfig postprocessFrom(const Napi::Object& spec) {
  const std::string path = kSpec + ".postprocess";
  Napi::Object p = objectField(spec, "postprocess", kSpec);
  PostprocessConfig config;
  config.nmsPre = static_cast<int64_t>(numberField(p, "nmsPre", static_cast<double>(config.nmsPre), path));
  config.scoreThreshold = numberField(p, "scoreThreshold", config.scoreThreshold, path);
  config.nmsIou = numberField(p, "nmsIou", config.nmsIou, path);
  config.maxPerImage = static_cast<int64_t>(numberField(p, "maxPerImage", static_cast<double>(config.maxPerImage), path));
  const std::string nms = stringField(p, "nms", "auto", path);
  if (nms != "auto" && nms != "host" && nms != "device") throw Napi::TypeError::New(spec.Env(), path + ".nms must be 'host' or 'device'");
  if (nms != "auto") config.nms = nms == "host" ? NmsMode::Host : NmsMode::Device;
  return config;
}

HeadCheckArgs headCheckArgs(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "headCheck(spec) takes an object");
  Napi::Object spec = info[0].As<Napi::Object>();
  HeadCheckArgs args;
  args.batch = static_cast<int64_t>(requiredNumberField(spec, "batch", kSpec));
  args.numClasses = static_cast<int64_t>(requiredNumberField(spec, "numClasses", kSpec));
  args.regMax = static_cast<int64_t>(requiredNumberField(spec, "regMax", kSpec));
  args.anchorScale = requiredNumberField(spec, "anchorScale", kSpec);
  args.regression = regressionFrom(spec);
  args.qualityTarget = qualityTargetFrom(spec, args.regression);
  args.strides = shapeFrom(requiredField(spec, "strides", kSpec), kSpec + ".strides");
  args.featureSizes = featureSizesFrom(spec, args.strides.size());
  args.padSizes = intArrayField(spec, "padSizes", {}, kSpec);
  args.clsLogits = typedArrayFrom(requiredField(spec, "clsLogits", kSpec), napi_float32_array, 0, kSpec + ".clsLogits");
  args.boxRegression = typedArrayFrom(requiredField(spec, "boxRegression", kSpec), napi_float32_array, 0, kSpec + ".boxRegression");
  args.qualityLogits = typedArrayFrom(requiredField(spec, "qualityLogits", kSpec), napi_float32_array, 0, kSpec + ".qualityLogits");
  args.gtBoxes = perImageArrays(spec, "gtBoxes", napi_float32_array, 4);
  args.gtLabels = perImageArrays(spec, "gtLabels", napi_int32_array, 0);
  args.metas = imageMetasFrom(requiredField(spec, "metas", kSpec), kSpec + ".metas");
  args.postprocess = postprocessFrom(spec);
  args.device = optionalStringArg(info, 1, "cpu", "headCheck: device");
  return args;
}

// ---- the pipeline (worker thread) ----

// The head outputs as leaves that collect gradients: cls [N, A, C], box
// [N, A, 4] (delta) or [N, A, 4, R+1] (distribution), quality [N, A].
HeadOutputs headOutputsFrom(const HeadCheckArgs& args, int64_t numAnchors, const torch::Device& device) {
  const int64_t n = args.batch, a = numAnchors, c = args.numClasses;
  const bool distribution = args.regression == RegressionKind::Distribution;
  const std::vector<int64_t> boxShape = distribution ? std::vector<int64_t>{n, a, 4, args.regMax + 1} : std::vector<int64_t>{n, a, 4};
  torch::Tensor cls = tensorFromHost(args.clsLogits, torch::kCPU, "headCheck: clsLogits");
  torch::Tensor box = tensorFromHost(args.boxRegression, torch::kCPU, "headCheck: boxRegression");
  torch::Tensor quality = tensorFromHost(args.qualityLogits, torch::kCPU, "headCheck: qualityLogits");
  if (cls.numel() != n * a * c || box.numel() != n * a * 4 * (distribution ? args.regMax + 1 : 1) || quality.numel() != n * a) {
    throw std::invalid_argument("headCheck: head outputs do not match batch " + std::to_string(n) + ", " + std::to_string(a) +
                                " anchors and " + std::to_string(c) + " classes");
  }
  HeadOutputs outputs;
  outputs.regression = args.regression;
  outputs.regMax = args.regMax;
  outputs.qualityTarget = args.qualityTarget;
  for (const auto& [h, w] : args.featureSizes) outputs.numAnchorsPerLevel.push_back(h * w);
  outputs.strides = args.strides;
  outputs.clsLogits = cls.reshape({n, a, c}).to(device).requires_grad_(true);
  outputs.boxRegression = box.reshape(boxShape).to(device).requires_grad_(true);
  outputs.qualityLogits = quality.reshape({n, a}).to(device).requires_grad_(true);
  return outputs;
}

// Per image with a pad size: which anchors lie inside its extent in the batch.
std::vector<torch::Tensor> validAnchors(const HeadCheckArgs& args, const torch::Device& device) {
  std::vector<torch::Tensor> valid;
  for (size_t i = 0; i + 1 < args.padSizes.size(); i += 2) {
    valid.push_back(validAnchorFlags(args.featureSizes, args.strides, args.padSizes[i], args.padSizes[i + 1], device));
  }
  return valid;
}

AtssTargets targetsFor(const HeadCheckArgs& args, const HeadOutputs& outputs, const torch::Tensor& anchors,
                       const torch::Device& device) {
  std::vector<torch::Tensor> gtBoxes, gtLabels;  // on the host, as the trainer hands them over
  for (size_t i = 0; i < args.gtBoxes.size(); ++i) gtBoxes.push_back(tensorFromHost(args.gtBoxes[i], torch::kCPU, "headCheck: gtBoxes"));
  for (size_t i = 0; i < args.gtLabels.size(); ++i) gtLabels.push_back(tensorFromHost(args.gtLabels[i], torch::kCPU, "headCheck: gtLabels"));
  AtssTargetConfig config;
  config.numClasses = args.numClasses;
  config.regMax = args.regMax;
  return buildTargets(anchors, outputs.numAnchorsPerLevel, args.strides, gtBoxes, gtLabels, config, validAnchors(args, device));
}

void readLosses(const DetectionLoss& loss, HeadCheckResult& result) {
  for (const auto& [name, value] : loss.named()) result.losses.emplace_back(name, value.item<double>());
  result.numPositive = loss.numPositive.item<int64_t>();
  result.qualityWeightSum = loss.qualityWeightSum.item<double>();
  result.qualityFloor = loss.qualityFloor.item<double>();
}

// After backward: the norm of each head output's gradient (zero when it got none).
void readGradients(const HeadOutputs& outputs, HeadCheckResult& result) {
  const std::pair<const char*, torch::Tensor> leaves[] = {
      {"clsLogits", outputs.clsLogits}, {"boxRegression", outputs.boxRegression}, {"qualityLogits", outputs.qualityLogits}};
  for (const auto& [name, leaf] : leaves) {
    torch::Tensor grad = leaf.grad();
    if (!grad.defined()) grad = torch::zeros_like(leaf);
    result.gradsFinite = result.gradsFinite && torch::isfinite(grad).all().item<bool>();
    result.gradNorms.emplace_back(name, grad.norm().item<double>());
  }
}

NamedTensors targetsToHost(const AtssTargets& t) {
  const std::pair<const char*, torch::Tensor> named[] = {
      {"valid", t.valid.to(torch::kInt)}, {"labels", t.labels},         {"matchedGt", t.matchedGt},
      {"boxTargets", t.boxTargets},       {"deltaTargets", t.deltaTargets}, {"centerness", t.centerness},
      {"distanceTargets", t.distanceTargets}, {"distanceBins", t.distanceBins}, {"anchors", t.anchors}};
  NamedTensors out;
  for (const auto& [name, tensor] : named) out.emplace_back(name, toHostTensor(tensor, std::string("headCheck: targets.") + name));
  return out;
}

HeadCheckResult runHeadCheck(const HeadCheckArgs& args) {
  const torch::Device device = resolveDevice(args.device);
  const torch::Tensor anchors = generateAnchors(args.featureSizes, args.strides, args.anchorScale, device);
  HeadOutputs outputs = headOutputsFrom(args, anchors.size(0), device);
  const AtssTargets targets = targetsFor(args, outputs, anchors, device);
  DetectionLoss loss = computeLosses(outputs, targets);
  HeadCheckResult result;
  readLosses(loss, result);
  loss.total.backward();
  readGradients(outputs, result);
  result.targets = targetsToHost(targets);
  if (!args.metas.empty()) result.detections = detectionsToHost(postprocess(outputs, anchors, args.metas, args.postprocess));
  return result;
}

// ---- the result (JS thread) ----

Napi::Object numbersToJs(Napi::Env env, const std::vector<std::pair<std::string, double>>& values) {
  Napi::Object out = Napi::Object::New(env);
  for (const auto& [name, value] : values) out.Set(name, Napi::Number::New(env, value));
  return out;
}

Napi::Value headCheckResultToJs(Napi::Env env, HeadCheckResult& r) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("losses", numbersToJs(env, r.losses));
  out.Set("numPositive", Napi::Number::New(env, static_cast<double>(r.numPositive)));
  out.Set("qualityWeightSum", Napi::Number::New(env, r.qualityWeightSum));
  out.Set("qualityFloor", Napi::Number::New(env, r.qualityFloor));
  out.Set("gradNorms", numbersToJs(env, r.gradNorms));
  out.Set("gradsFinite", Napi::Boolean::New(env, r.gradsFinite));
  out.Set("targets", namedTensorsToJs(env, r.targets));
  out.Set("detections", detectionsToJs(env, r.detections));
  return out;
}

Napi::Value HeadCheck(const Napi::CallbackInfo& info) {
  HeadCheckArgs args = headCheckArgs(info);
  return PromiseWorker<HeadCheckResult>::Run(info.Env(), "headCheck", [args] { return runHeadCheck(args); }, headCheckResultToJs);
}

const TestHook registration([](Napi::Env env, Napi::Object exports) {
  exports.Set("headCheck", Napi::Function::New<HeadCheck>(env, "headCheck"));
});

}  // namespace
}  // namespace laxray::js
