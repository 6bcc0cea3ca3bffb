#include "bindings/convert.h"

#include <cmath>

#include "compat.h"

namespace laxray::js {

std::string describeCurrentException() {
  try {
    throw;
  } catch (const c10::Error& e) {
    return errorMessageOf(e);
  } catch (const std::bad_alloc&) {
    return "out of memory (try a smaller batch or image size)";
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown native error";
  }
}

std::string prefixed(const std::string& what, const std::string& message) {
  return message.rfind(what, 0) == 0 ? message : what + ": " + message;
}

std::string stringArg(const Napi::CallbackInfo& info, size_t index, const std::string& name) {
  if (info.Length() <= index || !info[index].IsString()) {
    throw Napi::TypeError::New(info.Env(), name + " must be a string");
  }
  return info[index].As<Napi::String>().Utf8Value();
}

double numberArg(const Napi::CallbackInfo& info, size_t index, const std::string& name) {
  if (info.Length() <= index || !info[index].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), name + " must be a number");
  }
  return info[index].As<Napi::Number>().DoubleValue();
}

std::vector<int64_t> shapeFrom(const Napi::Value& value, const std::string& what) {
  Napi::Env env = value.Env();
  if (!value.IsArray()) throw Napi::TypeError::New(env, what + ": shape must be an array of integers");
  Napi::Array array = value.As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value d = array.Get(i);
    const double v = d.IsNumber() ? d.As<Napi::Number>().DoubleValue() : -1;
    if (!(v >= 0) || std::floor(v) != v || v > 9.007199254740991e15) {
      throw Napi::TypeError::New(env, what + ": shape[" + std::to_string(i) + "] must be a non-negative integer");
    }
    shape.push_back(static_cast<int64_t>(v));
  }
  return shape;
}

HostBuffer hostBufferFrom(const Napi::Value& array, const Napi::Value& shape, const std::string& what) {
  Napi::Env env = array.Env();
  if (!array.IsTypedArray()) {
    throw Napi::TypeError::New(env, what + ": data must be a Float32Array, Uint8Array or Int32Array");
  }
  Napi::TypedArray typed = array.As<Napi::TypedArray>();
  HostBuffer host;
  switch (typed.TypedArrayType()) {
    case napi_float32_array:
      host.dtype = at::kFloat;
      break;
    case napi_uint8_array:
      host.dtype = at::kByte;
      break;
    case napi_int32_array:
      host.dtype = at::kInt;
      break;
    default:
      throw Napi::TypeError::New(env, what + ": data must be a Float32Array, Uint8Array or Int32Array");
  }
  host.data = static_cast<const uint8_t*>(typed.ArrayBuffer().Data()) + typed.ByteOffset();
  host.byteLength = typed.ByteLength();
  host.shape = shapeFrom(shape, what);
  return host;
}

Napi::Object tensorToJs(Napi::Env env, const torch::Tensor& hostTensor) {
  auto* owned = new torch::Tensor(hostTensor);
  const size_t bytes = static_cast<size_t>(owned->numel()) * owned->element_size();
  Napi::ArrayBuffer buffer;
  if (bytes == 0) {
    delete owned;
    owned = nullptr;
    buffer = Napi::ArrayBuffer::New(env, 0);
  } else {
    buffer = Napi::ArrayBuffer::New(
        env, owned->data_ptr(), bytes, [](Napi::Env, void*, torch::Tensor* tensor) { delete tensor; }, owned);
  }
  const at::ScalarType dtype = hostTensor.scalar_type();
  const size_t numel = static_cast<size_t>(hostTensor.numel());
  Napi::Value data;
  switch (dtype) {
    case at::kFloat:
      data = Napi::Float32Array::New(env, numel, buffer, 0);
      break;
    case at::kByte:
      data = Napi::Uint8Array::New(env, numel, buffer, 0);
      break;
    case at::kInt:
      data = Napi::Int32Array::New(env, numel, buffer, 0);
      break;
    default:
      throw Napi::TypeError::New(env, "internal: tensorToJs got " + std::string(c10::toString(dtype)));
  }
  Napi::Array shape = Napi::Array::New(env, hostTensor.dim());
  for (int64_t i = 0; i < hostTensor.dim(); ++i) {
    shape.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(hostTensor.size(i))));
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("data", data);
  result.Set("shape", shape);
  return result;
}

}  // namespace laxray::js
