// labelAwareCls / labelAwareReg on a caller-given 1x1-conv predictor: LA's
// equations (label_aware.cc) exposed for users who want to study them and for
// tests that check them against a hand computation.
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "label_aware.h"
#include "tensor_io.h"

namespace laxray::js {
namespace {

struct LabelAwareOutput {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
};

// The arguments both functions share: x, a 1x1-conv predictor (weight, bias)
// and optional labels; the typed arrays are kept alive in `keepAlive`.
struct PredictorArgs {
  HostBuffer x, weight, bias, labels;
  bool hasLabels = false;
  std::vector<Napi::Value> keepAlive;
};

// (x, xShape, weight, weightShape, bias, labels|null, labelShape, ...)
PredictorArgs predictorArgs(const Napi::CallbackInfo& info) {
  PredictorArgs args;
  args.keepAlive = {info[0], info[2], info[4]};
  args.x = hostBufferFrom(info[0], info[1], "x");
  args.weight = hostBufferFrom(info[2], info[3], "weight");
  args.bias = typedArrayFrom(info[4], napi_float32_array, 0, "bias");
  args.hasLabels = info.Length() > 6 && !info[5].IsNull() && !info[5].IsUndefined();
  if (args.hasLabels) {
    args.labels = hostBufferFrom(info[5], info[6], "labels");
    args.keepAlive.push_back(info[5]);
  }
  return args;
}

// User-given labels are checked here, on the host (label_aware.cc trusts the assigner's).
void checkLabelRange(const torch::Tensor& labels, int64_t count, const std::string& what) {
  if (labels.numel() > 0 && (labels.max().item<int64_t>() >= count || labels.min().item<int64_t>() < -1)) {
    throw std::invalid_argument("label-aware: " + what + " must be −1 or 0.." + std::to_string(count - 1));
  }
}

// The optional weighting argument: 'sigmoid' (default) or 'scaled'.
LabelAwareWeight weightingArg(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || info[index].IsUndefined() || info[index].IsNull()) return LabelAwareWeight::Sigmoid;
  const std::string name = info[index].IsString() ? info[index].As<Napi::String>().Utf8Value() : std::string();
  if (name == "sigmoid") return LabelAwareWeight::Sigmoid;
  if (name == "scaled") return LabelAwareWeight::Scaled;
  throw Napi::TypeError::New(info.Env(), "weighting must be 'sigmoid' or 'scaled'");
}

// labelAwareCls(x, xShape [N,Cin,H,W], weight, weightShape [C,Cin], bias [C], labels|null, labelShape [N,H,W], a, b, c, weighting?)
Napi::Value LabelAwareCls(const Napi::CallbackInfo& info) {
  PredictorArgs a = predictorArgs(info);
  const HostBuffer x = a.x, weight = a.weight, bias = a.bias, labels = a.labels;
  const bool hasLabels = a.hasLabels;
  LabelAwareCoefficients k{numberArg(info, 7, "a"), numberArg(info, 8, "b"), numberArg(info, 9, "c")};
  const LabelAwareWeight weighting = weightingArg(info, 10);
  return PromiseWorker<LabelAwareOutput>::Run(
      info.Env(), "labelAwareCls",
      [x, weight, bias, labels, hasLabels, k, weighting] {
        torch::Tensor xt = tensorFromHost(x, torch::kCPU, "x");
        torch::Tensor w = tensorFromHost(weight, torch::kCPU, "weight");
        torch::Tensor b = tensorFromHost(bias, torch::kCPU, "bias");
        if (xt.dim() != 4 || w.dim() != 2 || w.size(1) != xt.size(1) || b.size(0) != w.size(0)) {
          throw std::invalid_argument("x must be [N, Cin, H, W], weight [C, Cin], bias [C]; got " + shapeString(xt.sizes()) +
                                      ", " + shapeString(w.sizes()) + ", " + shapeString(b.sizes()));
        }
        torch::Tensor kernel = w.unsqueeze(-1).unsqueeze(-1);
        auto predict = [&](const torch::Tensor& xTilde, size_t) { return torch::sigmoid(torch::conv2d(xTilde, kernel, b)); };
        std::vector<torch::Tensor> l;
        if (hasLabels) {
          l.push_back(tensorFromHost(labels, torch::kCPU, "labels").to(torch::kLong));
          checkLabelRange(l[0], w.size(0), "labels (−1 = background)");
        }
        LabelAwareClsResult r = labelAwareCls({xt}, predict, l, k, weighting).at(0);
        return LabelAwareOutput{{{"xNew", toHostTensor(r.xNew, "xNew")}, {"w1", toHostTensor(r.w1, "w1")}, {"w2", toHostTensor(r.w2, "w2")}}};
      },
      [](Napi::Env env, LabelAwareOutput& out) -> Napi::Value { return namedTensorsToJs(env, out.tensors); }, a.keepAlive);
}

// labelAwareReg(x, xShape, weight, weightShape [4(R+1), Cin], bias [4(R+1)], bins|null, binShape [N,4,H,W], weighting?)
Napi::Value LabelAwareReg(const Napi::CallbackInfo& info) {
  PredictorArgs a = predictorArgs(info);
  const HostBuffer x = a.x, weight = a.weight, bias = a.bias, bins = a.labels;
  const bool hasBins = a.hasLabels;
  const LabelAwareWeight weighting = weightingArg(info, 7);
  return PromiseWorker<LabelAwareOutput>::Run(
      info.Env(), "labelAwareReg",
      [x, weight, bias, bins, hasBins, weighting] {
        torch::Tensor xt = tensorFromHost(x, torch::kCPU, "x");
        torch::Tensor w = tensorFromHost(weight, torch::kCPU, "weight");
        torch::Tensor b = tensorFromHost(bias, torch::kCPU, "bias");
        if (xt.dim() != 4 || w.dim() != 2 || w.size(1) != xt.size(1) || w.size(0) % 4 != 0 || b.size(0) != w.size(0)) {
          throw std::invalid_argument("x must be [N, Cin, H, W], weight [4(R+1), Cin], bias [4(R+1)]; got " +
                                      shapeString(xt.sizes()) + ", " + shapeString(w.sizes()) + ", " + shapeString(b.sizes()));
        }
        torch::Tensor kernel = w.unsqueeze(-1).unsqueeze(-1);
        const int64_t numBins = w.size(0) / 4;
        auto predict = [&](const torch::Tensor& xTilde, size_t) {
          torch::Tensor logits = torch::conv2d(xTilde, kernel, b);
          return torch::sigmoid(logits.reshape({logits.size(0), 4, numBins, logits.size(2), logits.size(3)}));
        };
        std::vector<torch::Tensor> t;
        if (hasBins) {
          t.push_back(tensorFromHost(bins, torch::kCPU, "bins").to(torch::kLong));
          checkLabelRange(t[0], numBins, "target bins (−1 = not positive)");
        }
        LabelAwareRegResult r = labelAwareReg({xt}, predict, t, weighting).at(0);
        return LabelAwareOutput{{{"xNew", toHostTensor(r.xNew, "xNew")}, {"w", toHostTensor(r.w, "w")}}};
      },
      [](Napi::Env env, LabelAwareOutput& out) -> Napi::Value { return namedTensorsToJs(env, out.tensors); }, a.keepAlive);
}

}  // namespace

void registerLabelAwareBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("labelAwareCls", Napi::Function::New<LabelAwareCls>(env, "labelAwareCls"));
  exports.Set("labelAwareReg", Napi::Function::New<LabelAwareReg>(env, "labelAwareReg"));
}

}  // namespace laxray::js
