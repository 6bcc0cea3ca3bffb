#include "bindings/tensor_handle.h"

#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "runtime.h"
#include "tensor_io.h"

namespace laxray::js {

Napi::Function TensorHandle::DefineClass(Napi::Env env) {
  return ObjectWrap<TensorHandle>::DefineClass(env, "TensorHandle",
                                               {
                                                   InstanceAccessor<&TensorHandle::Shape>("shape"),
                                                   InstanceAccessor<&TensorHandle::Dtype>("dtype"),
                                                   InstanceAccessor<&TensorHandle::Device>("device"),
                                                   InstanceMethod<&TensorHandle::ToArray>("toArray"),
                                                   InstanceMethod<&TensorHandle::To>("to"),
                                               });
}

Napi::Object TensorHandle::NewHandle(Napi::Env env, torch::Tensor tensor) {
  auto* data = env.GetInstanceData<AddonData>();
  auto* owned = new torch::Tensor(std::move(tensor));
  Napi::External<torch::Tensor> external =
      Napi::External<torch::Tensor>::New(env, owned, [](Napi::Env, torch::Tensor* t) { delete t; });
  return data->tensorHandleConstructor.New({external});
}

torch::Tensor TensorHandle::TensorOf(const Napi::Value& value, const std::string& what) {
  auto* data = value.Env().GetInstanceData<AddonData>();
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(data->tensorHandleConstructor.Value())) {
    throw Napi::TypeError::New(value.Env(), what + " must be a tensor handle (from tensorFrom)");
  }
  return ObjectWrap<TensorHandle>::Unwrap(value.As<Napi::Object>())->tensor_;
}

TensorHandle::TensorHandle(const Napi::CallbackInfo& info) : ObjectWrap<TensorHandle>(info) {
  if (info.Length() != 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "TensorHandle cannot be constructed directly; use tensorFrom()");
  }
  tensor_ = *info[0].As<Napi::External<torch::Tensor>>().Data();
}

Napi::Value TensorHandle::Shape(const Napi::CallbackInfo& info) {
  Napi::Array shape = Napi::Array::New(info.Env(), tensor_.dim());
  for (int64_t i = 0; i < tensor_.dim(); ++i) {
    shape.Set(static_cast<uint32_t>(i), Napi::Number::New(info.Env(), static_cast<double>(tensor_.size(i))));
  }
  return shape;
}

Napi::Value TensorHandle::Dtype(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), dtypeName(tensor_.scalar_type()));
}

Napi::Value TensorHandle::Device(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), tensor_.device().str());
}

// toArray(): Promise<{data, shape}> — a copy (never a view of the tensor), made on a worker thread.
Napi::Value TensorHandle::ToArray(const Napi::CallbackInfo& info) {
  torch::Tensor tensor = tensor_;
  return PromiseWorker<torch::Tensor>::Run(
      info.Env(), "toArray", [tensor] { return toHostTensor(tensor, "toArray"); },
      [](Napi::Env env, torch::Tensor& host) -> Napi::Value { return tensorToJs(env, host); });
}

// to(device): Promise<TensorHandle> on another device.
Napi::Value TensorHandle::To(const Napi::CallbackInfo& info) {
  const std::string deviceName = stringArg(info, 0, "to(device): device");
  torch::Tensor tensor = tensor_;
  return PromiseWorker<torch::Tensor>::Run(
      info.Env(), "to(" + deviceName + ")", [tensor, deviceName] { return tensor.to(resolveDevice(deviceName)); },
      [](Napi::Env env, torch::Tensor& moved) -> Napi::Value { return NewHandle(env, moved); });
}

}  // namespace laxray::js
