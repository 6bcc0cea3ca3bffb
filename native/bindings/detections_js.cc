#include "bindings/detections_js.h"

#include "bindings/convert.h"
#include "tensor_io.h"

namespace laxray::js {

std::vector<ImageMeta> imageMetasFrom(const Napi::Value& value, const std::string& what) {
  if (!value.IsArray()) throw Napi::TypeError::New(value.Env(), what + " must be an array (one entry per image)");
  Napi::Array list = value.As<Napi::Array>();
  std::vector<ImageMeta> metas;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    const std::string path = what + "[" + std::to_string(i) + "]";
    if (!list.Get(i).IsObject()) throw Napi::TypeError::New(value.Env(), path + " must be an object");
    Napi::Object m = list.Get(i).As<Napi::Object>();
    ImageMeta meta;
    meta.inputWidth = requiredNumberField(m, "inputWidth", path);
    meta.inputHeight = requiredNumberField(m, "inputHeight", path);
    meta.scaleX = requiredNumberField(m, "scaleX", path);
    meta.scaleY = requiredNumberField(m, "scaleY", path);
    meta.originalWidth = requiredNumberField(m, "originalWidth", path);
    meta.originalHeight = requiredNumberField(m, "originalHeight", path);
    metas.push_back(meta);
  }
  return metas;
}

std::vector<HostDetections> detectionsToHost(const std::vector<Detections>& detections) {
  std::vector<HostDetections> out;
  for (const Detections& d : detections) {
    out.push_back({toHostTensor(d.boxes, "boxes"), toHostTensor(d.scores, "scores"), toHostTensor(d.labels, "labels")});
  }
  return out;
}

Napi::Array detectionsToJs(Napi::Env env, const std::vector<HostDetections>& detections) {
  Napi::Array out = Napi::Array::New(env, detections.size());
  for (size_t i = 0; i < detections.size(); ++i) {
    Napi::Object image = Napi::Object::New(env);
    image.Set("boxes", typedArrayToJs(env, detections[i].boxes));
    image.Set("scores", typedArrayToJs(env, detections[i].scores));
    image.Set("labels", typedArrayToJs(env, detections[i].labels));
    out.Set(static_cast<uint32_t>(i), image);
  }
  return out;
}

}  // namespace laxray::js
