// `laxray/ops` on plain typed arrays: box IoU / GIoU, NMS, focal loss and the
// ATSS assigner. Arguments are validated and copied on the JS thread (the
// caller may reuse its arrays at once); the work, including the copy back to
// the host, runs on a worker thread (PromiseWorker).
#include <string>
#include <vector>

#include "assigner.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "box_ops.h"
#include "losses.h"
#include "runtime.h"
#include "tensor_io.h"

namespace laxray::js {
namespace {

// Rows of x1, y1, x2, y2: [K, 4].
HostBuffer boxesArg(const Napi::Value& value, const std::string& name) {
  return typedArrayFrom(value, napi_float32_array, 4, name);
}

// The device argument: absent -> cpu.
std::string deviceArg(const Napi::CallbackInfo& info, size_t index, const std::string& what) {
  return optionalStringArg(info, index, "cpu", what + ": device");
}

using PairFn = torch::Tensor (*)(const torch::Tensor&, const torch::Tensor&);

Napi::Value pairwise(const Napi::CallbackInfo& info, const std::string& what, PairFn fn) {
  HostBuffer a = boxesArg(info[0], what + ": a");
  HostBuffer b = boxesArg(info[1], what + ": b");
  const std::string device = deviceArg(info, 2, what);
  return PromiseWorker<torch::Tensor>::Run(
      info.Env(), what,
      [a, b, device, fn, what] {
        const torch::Device d = resolveDevice(device);
        return toHostTensor(fn(tensorFromHost(a, d, what + ": a"), tensorFromHost(b, d, what + ": b")), what);
      },
      typedArrayToJs);
}

// boxIou(a: Float32Array, b: Float32Array, device?): Promise<Float32Array> (N×M)
Napi::Value BoxIou(const Napi::CallbackInfo& info) { return pairwise(info, "boxIou", &boxIou); }

// generalizedBoxIou(a, b, device?): Promise<Float32Array> (N×M)
Napi::Value GeneralizedBoxIou(const Napi::CallbackInfo& info) {
  return pairwise(info, "generalizedBoxIou", &generalizedBoxIou);
}

// nms(boxes: Float32Array, scores: Float32Array, iouThreshold: number): Promise<Int32Array>
Napi::Value Nms(const Napi::CallbackInfo& info) {
  HostBuffer boxes = boxesArg(info[0], "nms: boxes");
  HostBuffer scores = typedArrayFrom(info[1], napi_float32_array, 0, "nms: scores");
  const double iou = numberArg(info, 2, "nms: iouThreshold");
  return PromiseWorker<torch::Tensor>::Run(
      info.Env(), "nms",
      [boxes, scores, iou] {
        torch::Tensor keep =
            nms(tensorFromHost(boxes, torch::kCPU, "nms: boxes"), tensorFromHost(scores, torch::kCPU, "nms: scores"), iou);
        return toHostTensor(keep, "nms");
      },
      typedArrayToJs);
}

// batchedNms(boxes, scores, classIds: Int32Array, iouThreshold): Promise<Int32Array>
Napi::Value BatchedNms(const Napi::CallbackInfo& info) {
  HostBuffer boxes = boxesArg(info[0], "batchedNms: boxes");
  HostBuffer scores = typedArrayFrom(info[1], napi_float32_array, 0, "batchedNms: scores");
  HostBuffer classIds = typedArrayFrom(info[2], napi_int32_array, 0, "batchedNms: classIds");
  const double iou = numberArg(info, 3, "batchedNms: iouThreshold");
  return PromiseWorker<torch::Tensor>::Run(
      info.Env(), "batchedNms",
      [boxes, scores, classIds, iou] {
        torch::Tensor keep = batchedNms(tensorFromHost(boxes, torch::kCPU, "batchedNms: boxes"),
                                        tensorFromHost(scores, torch::kCPU, "batchedNms: scores"),
                                        tensorFromHost(classIds, torch::kCPU, "batchedNms: classIds"), iou);
        return toHostTensor(keep, "batchedNms");
      },
      typedArrayToJs);
}

// sigmoidFocalLoss(logits, targets, alpha, gamma, reduction, device?): Promise<Float32Array>
Napi::Value SigmoidFocalLoss(const Napi::CallbackInfo& info) {
  HostBuffer logits = typedArrayFrom(info[0], napi_float32_array, 0, "sigmoidFocalLoss: logits");
  HostBuffer targets = typedArrayFrom(info[1], napi_float32_array, 0, "sigmoidFocalLoss: targets");
  const double alpha = numberArg(info, 2, "sigmoidFocalLoss: alpha");
  const double gamma = numberArg(info, 3, "sigmoidFocalLoss: gamma");
  const Reduction reduction =
      guarded(info.Env(), "sigmoidFocalLoss", [&] { return reductionFromString(stringArg(info, 4, "sigmoidFocalLoss: reduction")); });
  const std::string device = deviceArg(info, 5, "sigmoidFocalLoss");
  return PromiseWorker<torch::Tensor>::Run(
      info.Env(), "sigmoidFocalLoss",
      [logits, targets, alpha, gamma, reduction, device] {
        const torch::Device d = resolveDevice(device);
        torch::Tensor loss = sigmoidFocalLoss(tensorFromHost(logits, d, "sigmoidFocalLoss: logits"),
                                              tensorFromHost(targets, d, "sigmoidFocalLoss: targets"), alpha, gamma, reduction);
        return toHostTensor(loss.reshape({-1}), "sigmoidFocalLoss");
      },
      typedArrayToJs);
}

// atssAssign(anchors, numAnchorsPerLevel: number[], gtBoxes, gtLabels: Int32Array, topk, numClasses, device?)
//   -> Promise<{labels: Int32Array, matchedGt: Int32Array, maxIou: Float32Array, thresholds: Float32Array}>
Napi::Value AtssAssign(const Napi::CallbackInfo& info) {
  HostBuffer anchors = boxesArg(info[0], "atssAssign: anchors");
  std::vector<int64_t> perLevel = shapeFrom(info[1], "atssAssign: numAnchorsPerLevel");
  HostBuffer gtBoxes = boxesArg(info[2], "atssAssign: gtBoxes");
  HostBuffer gtLabels = typedArrayFrom(info[3], napi_int32_array, 0, "atssAssign: gtLabels");
  AtssAssignerConfig config;
  config.topk = static_cast<int64_t>(numberArg(info, 4, "atssAssign: topk"));
  config.numClasses = static_cast<int64_t>(numberArg(info, 5, "atssAssign: numClasses"));
  const std::string device = deviceArg(info, 6, "atssAssign");
  using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;
  return PromiseWorker<NamedTensors>::Run(
      info.Env(), "atssAssign",
      [anchors, perLevel, gtBoxes, gtLabels, config, device] {
        const torch::Device d = resolveDevice(device);
        const AtssAssignment r = atssAssign(tensorFromHost(anchors, d, "atssAssign: anchors"), perLevel,
                                            tensorFromHost(gtBoxes, d, "atssAssign: gtBoxes"),
                                            tensorFromHost(gtLabels, d, "atssAssign: gtLabels"), config);
        return NamedTensors{{"labels", toHostTensor(r.labels, "atssAssign")},
                            {"matchedGt", toHostTensor(r.matchedGt, "atssAssign")},
                            {"maxIou", toHostTensor(r.maxIou, "atssAssign")},
                            {"thresholds", toHostTensor(r.thresholds, "atssAssign")}};
      },
      [](Napi::Env env, NamedTensors& r) -> Napi::Value {
        Napi::Object out = Napi::Object::New(env);
        for (const auto& [name, tensor] : r) out.Set(name, typedArrayToJs(env, tensor));
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
}

}  // namespace laxray::js
