// A JS object owning a torch::Tensor (on CPU or CUDA), so tensors can stay on
// the device between calls instead of crossing the boundary each time.
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <string>

namespace laxray::js {

class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  static Napi::Function DefineClass(Napi::Env env);
  static Napi::Object NewHandle(Napi::Env env, torch::Tensor tensor);
  // The tensor inside a handle, or a TypeError naming `what`.
  static torch::Tensor TensorOf(const Napi::Value& value, const std::string& what);

  explicit TensorHandle(const Napi::CallbackInfo& info);

 private:
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value Dtype(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value ToArray(const Napi::CallbackInfo& info);
  Napi::Value To(const Napi::CallbackInfo& info);

  torch::Tensor tensor_;
};

}  // namespace laxray::js
