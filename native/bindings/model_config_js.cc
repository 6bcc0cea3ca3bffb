#include "bindings/model_config_js.h"

#include <cmath>

#include "bindings/convert.h"

namespace laxray::js {
namespace {

template <typename Enum>
Enum enumField(const Napi::Object& object, const char* key, Enum fallback, const std::string& path,
               std::initializer_list<std::pair<const char*, Enum>> choices) {
  const std::string fallbackName = [&] {
    for (const auto& [name, value] : choices) if (value == fallback) return std::string(name);
    return std::string();
  }();
  const std::string given = stringField(object, key, fallbackName, path);
  std::string allowed;
  for (const auto& [name, value] : choices) {
    if (given == name) return value;
    allowed += (allowed.empty() ? "'" : ", '") + std::string(name) + "'";
  }
  throw Napi::TypeError::New(object.Env(), path + "." + key + " must be one of " + allowed + ", got '" + given + "'");
}

}  // namespace

ModelConfig modelConfigFrom(const Napi::Value& value) {
  if (!value.IsObject()) throw Napi::TypeError::New(value.Env(), "model config must be an object");
  Napi::Object model = value.As<Napi::Object>();
  ModelConfig c;

  Napi::Object backbone = objectField(model, "backbone", "model");
  c.backbone.depth = static_cast<int>(numberField(backbone, "depth", c.backbone.depth, "model.backbone"));
  c.backbone.norm = enumField(backbone, "norm", c.backbone.norm, "model.backbone",
                              {{"frozen_bn", NormKind::FrozenBatchNorm}, {"bn", NormKind::BatchNorm}, {"gn", NormKind::GroupNorm}});
  c.backbone.frozenStages = static_cast<int>(numberField(backbone, "frozenStages", c.backbone.frozenStages, "model.backbone"));

  Napi::Object neck = objectField(model, "neck", "model");
  c.neck.outChannels = static_cast<int64_t>(numberField(neck, "outChannels", static_cast<double>(c.neck.outChannels), "model.neck"));
  c.neck.numOutputs = static_cast<int>(numberField(neck, "numOutputs", c.neck.numOutputs, "model.neck"));
  c.neck.extraReluP7 = boolField(neck, "extraReluP7", c.neck.extraReluP7, "model.neck");

  Napi::Object head = objectField(model, "head", "model");
  auto& h = c.head;
  h.numClasses = static_cast<int64_t>(numberField(head, "numClasses", static_cast<double>(h.numClasses), "model.head"));
  h.stackedConvs = static_cast<int>(numberField(head, "stackedConvs", h.stackedConvs, "model.head"));
  h.featChannels = static_cast<int64_t>(numberField(head, "featChannels", static_cast<double>(h.featChannels), "model.head"));
  h.regression = enumField(head, "regression", h.regression, "model.head",
                           {{"delta", RegressionKind::Delta}, {"distribution", RegressionKind::Distribution}});
  h.regMax = static_cast<int64_t>(numberField(head, "regMax", static_cast<double>(h.regMax), "model.head"));
  h.labelAware = enumField(head, "la", h.labelAware, "model.head",
                           {{"none", LabelAwareKind::None}, {"cls", LabelAwareKind::Cls}, {"reg", LabelAwareKind::Reg}});
  Napi::Object coefficients = objectField(head, "laCoefficients", "model.head");
  h.laCoefficients.a = numberField(coefficients, "a", h.laCoefficients.a, "model.head.laCoefficients");
  h.laCoefficients.b = numberField(coefficients, "b", h.laCoefficients.b, "model.head.laCoefficients");
  h.laCoefficients.c = numberField(coefficients, "c", h.laCoefficients.c, "model.head.laCoefficients");
  h.laWeight = enumField(head, "laWeight", h.laWeight, "model.head",
                         {{"sigmoid", LabelAwareWeight::Sigmoid}, {"scaled", LabelAwareWeight::Scaled}});
  // null (or absent): the reg tower runs twice exactly when LA is on, as the authors' heads.
  const bool regTwiceGiven = head.Has("laRegTwice") && !head.Get("laRegTwice").IsNull();
  h.laRegTwice = regTwiceGiven ? boolField(head, "laRegTwice", h.laRegTwice, "model.head")
                               : h.labelAware != LabelAwareKind::None;
  h.anchorScale = numberField(head, "anchorScale", h.anchorScale, "model.head");
  h.strides = intArrayField(head, "strides", h.strides, "model.head");
  h.priorProb = numberField(head, "priorProb", h.priorProb, "model.head");

  Napi::Object assigner = objectField(model, "assigner", "model");
  c.assigner.topk = static_cast<int64_t>(numberField(assigner, "topk", static_cast<double>(c.assigner.topk), "model.assigner"));

  Napi::Object loss = objectField(model, "loss", "model");
  c.loss.focalAlpha = numberField(loss, "focalAlpha", c.loss.focalAlpha, "model.loss");
  c.loss.focalGamma = numberField(loss, "focalGamma", c.loss.focalGamma, "model.loss");
  c.loss.boxWeight = numberField(loss, "giouWeight", c.loss.boxWeight, "model.loss");
  c.loss.qualityWeight = numberField(loss, "qualityWeight", c.loss.qualityWeight, "model.loss");
  c.loss.distributionLossWeight = numberField(loss, "distributionWeight", c.loss.distributionLossWeight, "model.loss");

  Napi::Object test = objectField(model, "test", "model");
  c.test.nmsPre = static_cast<int64_t>(numberField(test, "nmsPre", static_cast<double>(c.test.nmsPre), "model.test"));
  c.test.scoreThreshold = numberField(test, "scoreThreshold", c.test.scoreThreshold, "model.test");
  c.test.nmsIou = numberField(test, "nmsIou", c.test.nmsIou, "model.test");
  c.test.maxPerImage = static_cast<int64_t>(numberField(test, "maxPerImage", static_cast<double>(c.test.maxPerImage), "model.test"));
  h.labelAwareAtTest = boolField(test, "labelAware", h.labelAwareAtTest, "model.test");
  return c;
}

ExecutionConfig executionConfigFrom(const Napi::Value& value) {
  ExecutionConfig c;
  if (value.IsUndefined()) return c;
  if (!value.IsObject()) throw Napi::TypeError::New(value.Env(), "execution config must be an object");
  Napi::Object o = value.As<Napi::Object>();
  c.precision = enumField(o, "precision", c.precision, "config",
                          {{"fp32", Precision::Fp32}, {"tf32", Precision::Tf32}, {"bf16", Precision::Bf16}, {"fp16", Precision::Fp16}});
  c.labelAwareInCompute = enumField(o, "labelAwarePrecision", false, "config", {{"fp32", false}, {"compute", true}});
  c.channelsLast = boolField(o, "channelsLast", c.channelsLast, "config");
  c.cudnnBenchmark = boolField(o, "cudnnBenchmark", c.cudnnBenchmark, "config");
  // pixelMean / pixelStd: 3 finite numbers (RGB, 0..255), std > 0; absent: ImageNet's.
  auto rgb = [&](const char* key, std::array<double, 3>& out, bool positive) {
    if (!o.Has(key) || o.Get(key).IsUndefined()) return;
    const std::string what = std::string("config.") + key + " must be 3 finite numbers (RGB" + (positive ? ", each > 0)" : ")");
    if (!o.Get(key).IsArray() || o.Get(key).As<Napi::Array>().Length() != 3) throw Napi::TypeError::New(o.Env(), what);
    Napi::Array list = o.Get(key).As<Napi::Array>();
    for (uint32_t i = 0; i < 3; ++i) {
      if (!list.Get(i).IsNumber()) throw Napi::TypeError::New(o.Env(), what);
      const double v = list.Get(i).As<Napi::Number>().DoubleValue();
      if (!std::isfinite(v) || (positive && v <= 0)) throw Napi::TypeError::New(o.Env(), what);
      out[i] = v;
    }
  };
  rgb("pixelMean", c.pixels.mean, false);
  rgb("pixelStd", c.pixels.std, true);
  return c;
}

}  // namespace laxray::js
