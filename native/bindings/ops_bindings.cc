// `laxray/ops` on plain typed arrays: box IoU / GIoU, NMS, focal loss and the
// ATSS assigner, plus a test hook that runs buildTargets + computeLosses +
// postprocess on given head outputs. Arguments are validated and copied on the
// JS thread (the caller may reuse its arrays at once); the work runs on a
// worker thread (PromiseWorker).
#include <cmath>
#include <utility>
#include <vector>

#include "anchors.h"
#include "assigner.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "box_ops.h"
#include "head_outputs.h"
#include "losses.h"
#include "postprocess.h"
#include "runtime.h"
#include "tensor_io.h"

namespace laxray::js {
namespace {

// A copy of a typed array of the expected kind, as shape [length / columns, columns]
// (columns 0: 1-D).
HostBuffer hostArg(const Napi::Value& value, napi_typedarray_type type, int64_t columns, const std::string& name) {
  Napi::Env env = value.Env();
  const char* kind = type == napi_float32_array ? "Float32Array" : "Int32Array";
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != type) {
    throw Napi::TypeError::New(env, name + " must be a " + std::string(kind));
  }
  Napi::TypedArray typed = value.As<Napi::TypedArray>();
  const int64_t length = static_cast<int64_t>(typed.ElementLength());
  if (columns > 0 && length % columns != 0) {
    throw Napi::TypeError::New(env, name + " must hold rows of " + std::to_string(columns) +
                                        (columns == 4 ? " (x1, y1, x2, y2)" : "") + " values; its length " +
                                        std::to_string(length) + " is not a multiple of " + std::to_string(columns));
  }
  return copyTypedArray(typed, type == napi_float32_array ? at::kFloat : at::kInt,
                        columns > 0 ? std::vector<int64_t>{length / columns, columns} : std::vector<int64_t>{length});
}

HostBuffer boxesHost(const Napi::Value& value, const std::string& name) {
  return hostArg(value, napi_float32_array, 4, name);
}

// The same as a CPU tensor (for the test hook, whose arrays sit in an object).
torch::Tensor arrayArg(const Napi::Value& value, napi_typedarray_type type, int64_t columns, const std::string& name) {
  return tensorFromHost(hostArg(value, type, columns, name), torch::kCPU, name);
}

std::vector<int64_t> intListArg(const Napi::Value& value, const std::string& name) {
  return shapeFrom(value, name);  // an array of non-negative integers
}

std::string deviceArg(const Napi::CallbackInfo& info, size_t index) {
  return info.Length() > index && info[index].IsString() ? info[index].As<Napi::String>().Utf8Value() : "cpu";
}

Napi::Value dataOf(Napi::Env env, const torch::Tensor& tensor, const std::string& what) {
  return tensorToJs(env, toHostTensor(tensor, what)).Get("data");
}

using PairFn = torch::Tensor (*)(const torch::Tensor&, const torch::Tensor&);

Napi::Value pairwise(const Napi::CallbackInfo& info, const std::string& what, PairFn fn) {
  HostBuffer a = boxesHost(info[0], what + ": a");
  HostBuffer b = boxesHost(info[1], what + ": b");
  const std::string device = deviceArg(info, 2);
  return PromiseWorker<torch::Tensor>::Run(
      info.Env(), what, [a, b, device, fn, what] {
        const torch::Device d = resolveDevice(device);
        return fn(tensorFromHost(a, d, what + ": a"), tensorFromHost(b, d, what + ": b"));
      },
      [what](Napi::Env env, torch::Tensor& r) { return dataOf(env, r, what); });
}

// boxIou(a: Float32Array, b: Float32Array, device?): Promise<Float32Array> (N×M)
Napi::Value BoxIou(const Napi::CallbackInfo& info) { return pairwise(info, "boxIou", &boxIou); }

// generalizedBoxIou(a, b, device?): Promise<Float32Array> (N×M)
Napi::Value GeneralizedBoxIou(const Napi::CallbackInfo& info) {
  return pairwise(info, "generalizedBoxIou", &generalizedBoxIou);
}

// nms(boxes: Float32Array, scores: Float32Array, iouThreshold: number): Promise<Int32Array>
Napi::Value Nms(const Napi::CallbackInfo& info) {
  HostBuffer boxes = boxesHost(info[0], "nms: boxes");
  HostBuffer scores = hostArg(info[1], napi_float32_array, 0, "nms: scores");
  const double iou = numberArg(info, 2, "nms: iouThreshold");
  return PromiseWorker<torch::Tensor>::Run(
      info.Env(), "nms",
      [boxes, scores, iou] {
        return nms(tensorFromHost(boxes, torch::kCPU, "nms: boxes"), tensorFromHost(scores, torch::kCPU, "nms: scores"), iou);
      },
      [](Napi::Env env, torch::Tensor& r) { return dataOf(env, r, "nms"); });
}

// batchedNms(boxes, scores, classIds: Int32Array, iouThreshold): Promise<Int32Array>
Napi::Value BatchedNms(const Napi::CallbackInfo& info) {
  HostBuffer boxes = boxesHost(info[0], "batchedNms: boxes");
  HostBuffer scores = hostArg(info[1], napi_float32_array, 0, "batchedNms: scores");
  HostBuffer classIds = hostArg(info[2], napi_int32_array, 0, "batchedNms: classIds");
  const double iou = numberArg(info, 3, "batchedNms: iouThreshold");
  return PromiseWorker<torch::Tensor>::Run(
      info.Env(), "batchedNms",
      [boxes, scores, classIds, iou] {
        return batchedNms(tensorFromHost(boxes, torch::kCPU, "batchedNms: boxes"),
                          tensorFromHost(scores, torch::kCPU, "batchedNms: scores"),
                          tensorFromHost(classIds, torch::kCPU, "batchedNms: classIds"), iou);
      },
      [](Napi::Env env, torch::Tensor& r) { return dataOf(env, r, "batchedNms"); });
}

// sigmoidFocalLoss(logits, targets, alpha, gamma, reduction, device?): Promise<Float32Array>
Napi::Value SigmoidFocalLoss(const Napi::CallbackInfo& info) {
  HostBuffer logits = hostArg(info[0], napi_float32_array, 0, "sigmoidFocalLoss: logits");
  HostBuffer targets = hostArg(info[1], napi_float32_array, 0, "sigmoidFocalLoss: targets");
  const double alpha = numberArg(info, 2, "sigmoidFocalLoss: alpha");
  const double gamma = numberArg(info, 3, "sigmoidFocalLoss: gamma");
  const Reduction reduction =
      guarded(info.Env(), "sigmoidFocalLoss", [&] { return reductionFromString(stringArg(info, 4, "sigmoidFocalLoss: reduction")); });
  const std::string device = deviceArg(info, 5);
  return PromiseWorker<torch::Tensor>::Run(
      info.Env(), "sigmoidFocalLoss",
      [logits, targets, alpha, gamma, reduction, device] {
        const torch::Device d = resolveDevice(device);
        return sigmoidFocalLoss(tensorFromHost(logits, d, "sigmoidFocalLoss: logits"),
                                tensorFromHost(targets, d, "sigmoidFocalLoss: targets"), alpha, gamma, reduction)
            .reshape({-1});
      },
      [](Napi::Env env, torch::Tensor& r) { return dataOf(env, r, "sigmoidFocalLoss"); });
}

// atssAssign(anchors, numAnchorsPerLevel: number[], gtBoxes, gtLabels: Int32Array, topk, numClasses, device?)
//   -> Promise<{labels: Int32Array, matchedGt: Int32Array, maxIou: Float32Array, thresholds: Float32Array}>
Napi::Value AtssAssign(const Napi::CallbackInfo& info) {
  HostBuffer anchors = boxesHost(info[0], "atssAssign: anchors");
  std::vector<int64_t> perLevel = intListArg(info[1], "atssAssign: numAnchorsPerLevel");
  HostBuffer gtBoxes = boxesHost(info[2], "atssAssign: gtBoxes");
  HostBuffer gtLabels = hostArg(info[3], napi_int32_array, 0, "atssAssign: gtLabels");
  AtssAssignerConfig config;
  config.topk = static_cast<int64_t>(numberArg(info, 4, "atssAssign: topk"));
  config.numClasses = static_cast<int64_t>(numberArg(info, 5, "atssAssign: numClasses"));
  const std::string device = deviceArg(info, 6);
  return PromiseWorker<AtssAssignment>::Run(
      info.Env(), "atssAssign",
      [anchors, perLevel, gtBoxes, gtLabels, config, device] {
        const torch::Device d = resolveDevice(device);
        return atssAssign(tensorFromHost(anchors, d, "atssAssign: anchors"), perLevel,
                          tensorFromHost(gtBoxes, d, "atssAssign: gtBoxes"),
                          tensorFromHost(gtLabels, d, "atssAssign: gtLabels"), config);
      },
      [](Napi::Env env, AtssAssignment& r) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        out.Set("labels", dataOf(env, r.labels, "atssAssign"));
        out.Set("matchedGt", dataOf(env, r.matchedGt, "atssAssign"));
        out.Set("maxIou", dataOf(env, r.maxIou, "atssAssign"));
        out.Set("thresholds", dataOf(env, r.thresholds, "atssAssign"));
        return out;
      });
}

// ---- test hook: the head-side math on given head outputs ----

struct HeadCheckResult {
  std::vector<std::pair<std::string, double>> losses;
  int64_t numPositive = 0;
  double qualityWeightSum = 0;
  double qualityFloor = 0;
  std::vector<std::pair<std::string, double>> gradNorms;  // of the total loss w.r.t. each head output
  bool gradsFinite = true;
  AtssTargets targets;
  std::vector<Detections> detections;
};

Napi::Value objectField(const Napi::Object& spec, const char* key) {
  if (!spec.Has(key)) throw Napi::TypeError::New(spec.Env(), std::string("headCheck: spec.") + key + " is missing");
  return spec.Get(key);
}

double numberField(const Napi::Object& spec, const char* key) {
  Napi::Value v = objectField(spec, key);
  if (!v.IsNumber()) throw Napi::TypeError::New(spec.Env(), std::string("headCheck: spec.") + key + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

// headCheck(spec): runs generateAnchors → buildTargets → computeLosses (+ backward)
// → postprocess on head outputs given as typed arrays. See lib/ops.ts (HeadCheckSpec).
Napi::Value HeadCheck(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "headCheck(spec) takes an object");
  Napi::Object spec = info[0].As<Napi::Object>();
  const int64_t batch = static_cast<int64_t>(numberField(spec, "batch"));
  const int64_t numClasses = static_cast<int64_t>(numberField(spec, "numClasses"));
  const int64_t regMax = static_cast<int64_t>(numberField(spec, "regMax"));
  const double anchorScale = numberField(spec, "anchorScale");
  Napi::Value regression = objectField(spec, "regression");
  const bool distribution = regression.IsString() && regression.As<Napi::String>().Utf8Value() == "distribution";
  // qualityTarget: 'iou' | 'centerness'; absent: as the head would (IoU for distribution).
  const bool iouQuality = spec.Has("qualityTarget") && spec.Get("qualityTarget").IsString()
                              ? spec.Get("qualityTarget").As<Napi::String>().Utf8Value() == "iou"
                              : distribution;
  // padSizes: per image [width, height] of its extent in the batch (valid anchors); absent: all valid.
  std::vector<int64_t> padSizes;
  if (spec.Has("padSizes") && !spec.Get("padSizes").IsUndefined()) padSizes = intListArg(spec.Get("padSizes"), "headCheck: padSizes");
  std::vector<int64_t> strides = intListArg(objectField(spec, "strides"), "headCheck: strides");
  std::vector<int64_t> sizesFlat = intListArg(objectField(spec, "featureSizes"), "headCheck: featureSizes");
  if (sizesFlat.size() != 2 * strides.size()) {
    throw Napi::TypeError::New(env, "headCheck: featureSizes must list height, width per level");
  }
  std::vector<std::pair<int64_t, int64_t>> featureSizes;
  for (size_t l = 0; l < strides.size(); ++l) featureSizes.emplace_back(sizesFlat[2 * l], sizesFlat[2 * l + 1]);
  torch::Tensor cls = arrayArg(objectField(spec, "clsLogits"), napi_float32_array, 0, "headCheck: clsLogits");
  torch::Tensor reg = arrayArg(objectField(spec, "boxRegression"), napi_float32_array, 0, "headCheck: boxRegression");
  torch::Tensor quality = arrayArg(objectField(spec, "qualityLogits"), napi_float32_array, 0, "headCheck: qualityLogits");
  Napi::Value boxesValue = objectField(spec, "gtBoxes");
  Napi::Value labelsValue = objectField(spec, "gtLabels");
  if (!boxesValue.IsArray() || !labelsValue.IsArray()) {
    throw Napi::TypeError::New(env, "headCheck: gtBoxes and gtLabels must be arrays (one entry per image)");
  }
  std::vector<torch::Tensor> gtBoxes, gtLabels;
  for (uint32_t i = 0; i < boxesValue.As<Napi::Array>().Length(); ++i) {
    gtBoxes.push_back(arrayArg(boxesValue.As<Napi::Array>().Get(i), napi_float32_array, 4,
                               "headCheck: gtBoxes[" + std::to_string(i) + "]"));
  }
  for (uint32_t i = 0; i < labelsValue.As<Napi::Array>().Length(); ++i) {
    gtLabels.push_back(arrayArg(labelsValue.As<Napi::Array>().Get(i), napi_int32_array, 0,
                                "headCheck: gtLabels[" + std::to_string(i) + "]"));
  }
  std::vector<ImageMeta> metas;
  Napi::Value metasValue = objectField(spec, "metas");
  if (!metasValue.IsArray()) throw Napi::TypeError::New(env, "headCheck: metas must be an array");
  for (uint32_t i = 0; i < metasValue.As<Napi::Array>().Length(); ++i) {
    Napi::Value m = metasValue.As<Napi::Array>().Get(i);
    if (!m.IsObject()) throw Napi::TypeError::New(env, "headCheck: metas[" + std::to_string(i) + "] must be an object");
    Napi::Object o = m.As<Napi::Object>();
    ImageMeta meta;
    meta.inputWidth = numberField(o, "inputWidth");
    meta.inputHeight = numberField(o, "inputHeight");
    meta.scaleX = numberField(o, "scaleX");
    meta.scaleY = numberField(o, "scaleY");
    meta.originalWidth = numberField(o, "originalWidth");
    meta.originalHeight = numberField(o, "originalHeight");
    metas.push_back(meta);
  }
  PostprocessConfig postConfig;
  if (spec.Has("postprocess") && spec.Get("postprocess").IsObject()) {
    Napi::Object p = spec.Get("postprocess").As<Napi::Object>();
    if (p.Has("nmsPre")) postConfig.nmsPre = static_cast<int64_t>(numberField(p, "nmsPre"));
    if (p.Has("scoreThreshold")) postConfig.scoreThreshold = numberField(p, "scoreThreshold");
    if (p.Has("nmsIou")) postConfig.nmsIou = numberField(p, "nmsIou");
    if (p.Has("maxPerImage")) postConfig.maxPerImage = static_cast<int64_t>(numberField(p, "maxPerImage"));
    if (p.Has("nms")) {
      const std::string mode = p.Get("nms").ToString().Utf8Value();
      if (mode != "host" && mode != "device") throw Napi::TypeError::New(env, "headCheck: postprocess.nms must be 'host' or 'device'");
      postConfig.nms = mode == "host" ? NmsMode::Host : NmsMode::Device;
    }
  }
  const std::string device = deviceArg(info, 1);

  return PromiseWorker<HeadCheckResult>::Run(
      env, "headCheck",
      [=]() mutable {
        const torch::Device d = resolveDevice(device);
        torch::Tensor anchors = generateAnchors(featureSizes, strides, anchorScale, d);
        const int64_t a = anchors.size(0);
        HeadOutputs outputs;
        outputs.regression = distribution ? RegressionKind::Distribution : RegressionKind::Delta;
        outputs.regMax = regMax;
        outputs.qualityTarget = iouQuality ? QualityTarget::Iou : QualityTarget::Centerness;
        for (const auto& [h, w] : featureSizes) outputs.numAnchorsPerLevel.push_back(h * w);
        outputs.strides = strides;
        const std::vector<int64_t> regShape =
            distribution ? std::vector<int64_t>{batch, a, 4, regMax + 1} : std::vector<int64_t>{batch, a, 4};
        if (cls.numel() != batch * a * numClasses || reg.numel() != batch * a * 4 * (distribution ? regMax + 1 : 1) ||
            quality.numel() != batch * a) {
          throw std::invalid_argument("headCheck: head outputs do not match batch " + std::to_string(batch) + ", " +
                                      std::to_string(a) + " anchors and " + std::to_string(numClasses) + " classes");
        }
        outputs.clsLogits = cls.reshape({batch, a, numClasses}).to(d).requires_grad_(true);
        outputs.boxRegression = reg.reshape(regShape).to(d).requires_grad_(true);
        outputs.qualityLogits = quality.reshape({batch, a}).to(d).requires_grad_(true);
        AtssTargetConfig targetConfig;
        targetConfig.numClasses = numClasses;
        targetConfig.regMax = regMax;
        HeadCheckResult result;
        std::vector<torch::Tensor> valid;
        for (size_t i = 0; i + 1 < padSizes.size(); i += 2) {
          valid.push_back(validAnchorFlags(featureSizes, strides, padSizes[i], padSizes[i + 1], d));
        }
        result.targets = buildTargets(anchors, outputs.numAnchorsPerLevel, strides, gtBoxes, gtLabels, targetConfig, valid);
        DetectionLoss loss = computeLosses(outputs, result.targets);
        for (const auto& [name, value] : loss.named()) result.losses.emplace_back(name, value.item<double>());
        result.numPositive = loss.numPositive.item<int64_t>();
        result.qualityWeightSum = loss.qualityWeightSum.item<double>();
        result.qualityFloor = loss.qualityFloor.item<double>();
        loss.total.backward();
        const std::pair<const char*, torch::Tensor> leaves[] = {{"clsLogits", outputs.clsLogits},
                                                                {"boxRegression", outputs.boxRegression},
                                                                {"qualityLogits", outputs.qualityLogits}};
        for (const auto& [name, leaf] : leaves) {
          torch::Tensor grad = leaf.grad();
          if (!grad.defined()) grad = torch::zeros_like(leaf);
          result.gradsFinite = result.gradsFinite && torch::isfinite(grad).all().item<bool>();
          result.gradNorms.emplace_back(name, grad.norm().item<double>());
        }
        if (!metas.empty()) result.detections = postprocess(outputs, anchors, metas, postConfig);
        return result;
      },
      [](Napi::Env env, HeadCheckResult& r) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        Napi::Object losses = Napi::Object::New(env);
        for (const auto& [name, value] : r.losses) losses.Set(name, Napi::Number::New(env, value));
        out.Set("losses", losses);
        out.Set("numPositive", Napi::Number::New(env, static_cast<double>(r.numPositive)));
        out.Set("qualityWeightSum", Napi::Number::New(env, r.qualityWeightSum));
        out.Set("qualityFloor", Napi::Number::New(env, r.qualityFloor));
        Napi::Object grads = Napi::Object::New(env);
        for (const auto& [name, value] : r.gradNorms) grads.Set(name, Napi::Number::New(env, value));
        out.Set("gradNorms", grads);
        out.Set("gradsFinite", Napi::Boolean::New(env, r.gradsFinite));
        Napi::Object targets = Napi::Object::New(env);
        targets.Set("valid", tensorToJs(env, toHostTensor(r.targets.valid.to(torch::kInt), "headCheck")));
        targets.Set("labels", tensorToJs(env, toHostTensor(r.targets.labels, "headCheck")));
        targets.Set("matchedGt", tensorToJs(env, toHostTensor(r.targets.matchedGt, "headCheck")));
        targets.Set("boxTargets", tensorToJs(env, toHostTensor(r.targets.boxTargets, "headCheck")));
        targets.Set("deltaTargets", tensorToJs(env, toHostTensor(r.targets.deltaTargets, "headCheck")));
        targets.Set("centerness", tensorToJs(env, toHostTensor(r.targets.centerness, "headCheck")));
        targets.Set("distanceTargets", tensorToJs(env, toHostTensor(r.targets.distanceTargets, "headCheck")));
        targets.Set("distanceBins", tensorToJs(env, toHostTensor(r.targets.distanceBins, "headCheck")));
        targets.Set("anchors", tensorToJs(env, toHostTensor(r.targets.anchors, "headCheck")));
        out.Set("targets", targets);
        Napi::Array detections = Napi::Array::New(env, r.detections.size());
        for (size_t i = 0; i < r.detections.size(); ++i) {
          Napi::Object det = Napi::Object::New(env);
          det.Set("boxes", dataOf(env, r.detections[i].boxes, "headCheck"));
          det.Set("scores", dataOf(env, r.detections[i].scores, "headCheck"));
          det.Set("labels", dataOf(env, r.detections[i].labels, "headCheck"));
          detections.Set(static_cast<uint32_t>(i), det);
        }
        out.Set("detections", detections);
        return out;
      });
}

}  // namespace

void registerOpsBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("boxIou", Napi::Function::New<BoxIou>(env, "boxIou"));
  exports.Set("generalizedBoxIou", Napi::Function::New<GeneralizedBoxIou>(env, "generalizedBoxIou"));
  exports.Set("nms", Napi::Function::New<Nms>(env, "nms"));
  exports.Set("batchedNms", Napi::Function::New<BatchedNms>(env, "batchedNms"));
  exports.Set("sigmoidFocalLoss", Napi::Function::New<SigmoidFocalLoss>(env, "sigmoidFocalLoss"));
  exports.Set("atssAssign", Napi::Function::New<AtssAssign>(env, "atssAssign"));
  exports.Set("headCheck", Napi::Function::New<HeadCheck>(env, "headCheck"));
}

}  // namespace laxray::js
