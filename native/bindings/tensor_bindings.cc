// tensorFrom(data, shape, device) and the first tensor operation (matmul).
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "bindings/tensor_handle.h"
#include "runtime.h"
#include "tensor_io.h"
#include "tensor_ops.h"

namespace laxray::js {
namespace {

// tensorFrom(data: Float32Array|Uint8Array|Int32Array, shape: number[], device: string): Promise<TensorHandle>
Napi::Value TensorFrom(const Napi::CallbackInfo& info) {
  if (info.Length() < 3) throw Napi::TypeError::New(info.Env(), "tensorFrom(data, shape, device) takes 3 arguments");
  HostBuffer host = hostBufferFrom(info[0], info[1], "tensorFrom");
  const std::string deviceName = stringArg(info, 2, "tensorFrom: device");
  return PromiseWorker<torch::Tensor>::Run(
      info.Env(), "tensorFrom", [host, deviceName] { return tensorFromHost(host, resolveDevice(deviceName), "tensorFrom"); },
      [](Napi::Env env, torch::Tensor& tensor) -> Napi::Value { return TensorHandle::NewHandle(env, tensor); });
}

// matmul(a: TensorHandle, b: TensorHandle): Promise<TensorHandle>
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  torch::Tensor a = TensorHandle::TensorOf(info[0], "matmul: a");
  torch::Tensor b = TensorHandle::TensorOf(info[1], "matmul: b");
  return PromiseWorker<torch::Tensor>::Run(
      info.Env(), "matmul", [a, b] { return checkedMatmul(a, b); },
      [](Napi::Env env, torch::Tensor& product) -> Napi::Value { return TensorHandle::NewHandle(env, product); });
}

}  // namespace

void registerTensorBindings(Napi::Env env, Napi::Object exports) {
  auto* data = env.GetInstanceData<AddonData>();
  Napi::Function handle = TensorHandle::DefineClass(env);
  data->tensorHandleConstructor = Napi::Persistent(handle);
  exports.Set("TensorHandle", handle);
  exports.Set("tensorFrom", Napi::Function::New<TensorFrom>(env, "tensorFrom"));
  exports.Set("matmul", Napi::Function::New<Matmul>(env, "matmul"));
}

}  // namespace laxray::js
