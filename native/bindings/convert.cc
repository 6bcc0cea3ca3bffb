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

std::string optionalStringArg(const Napi::CallbackInfo& info, size_t index, const std::string& fallback, const std::string& name) {
  if (info.Length() <= index || info[index].IsUndefined() || info[index].IsNull()) return fallback;
  return stringArg(info, index, name);
}

double numberArg(const Napi::CallbackInfo& info, size_t index, const std::string& name) {
  if (info.Length() <= index || !info[index].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), name + " must be a number");
  }
  return info[index].As<Napi::Number>().DoubleValue();
}

namespace {
Napi::Value fieldOf(const Napi::Object& object, const char* key) {
  return object.Has(key) ? object.Get(key) : object.Env().Undefined();
}
std::string keyPath(const std::string& path, const char* key) { return path.empty() ? key : path + "." + key; }
}  // namespace

double numberField(const Napi::Object& object, const char* key, double fallback, const std::string& path) {
  Napi::Value v = fieldOf(object, key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(object.Env(), keyPath(path, key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

bool boolField(const Napi::Object& object, const char* key, bool fallback, const std::string& path) {
  Napi::Value v = fieldOf(object, key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsBoolean()) throw Napi::TypeError::New(object.Env(), keyPath(path, key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string stringField(const Napi::Object& object, const char* key, const std::string& fallback, const std::string& path) {
  Napi::Value v = fieldOf(object, key);
  if (v.IsUndefined()) return fallback;
  if (!v.IsString()) throw Napi::TypeError::New(object.Env(), keyPath(path, key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::vector<int64_t> intArrayField(const Napi::Object& object, const char* key, const std::vector<int64_t>& fallback,
                                   const std::string& path) {
  Napi::Value v = fieldOf(object, key);
  if (v.IsUndefined()) return fallback;
  return shapeFrom(v, keyPath(path, key));
}

Napi::Object objectField(const Napi::Object& object, const char* key, const std::string& path) {
  Napi::Value v = fieldOf(object, key);
  if (v.IsUndefined() || v.IsNull()) return Napi::Object::New(object.Env());
  if (!v.IsObject()) throw Napi::TypeError::New(object.Env(), keyPath(path, key) + " must be an object");
  return v.As<Napi::Object>();
}

Napi::Value requiredField(const Napi::Object& object, const char* key, const std::string& path) {
  Napi::Value v = fieldOf(object, key);
  if (v.IsUndefined()) throw Napi::TypeError::New(object.Env(), keyPath(path, key) + " is missing");
  return v;
}

double requiredNumberField(const Napi::Object& object, const char* key, const std::string& path) {
  Napi::Value v = requiredField(object, key, path);
  if (!v.IsNumber()) throw Napi::TypeError::New(object.Env(), keyPath(path, key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
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
  at::ScalarType dtype;
  switch (typed.TypedArrayType()) {
    case napi_float32_array:
      dtype = at::kFloat;
      break;
    case napi_uint8_array:
      dtype = at::kByte;
      break;
    case napi_int32_array:
      dtype = at::kInt;
      break;
    default:
      throw Napi::TypeError::New(env, what + ": data must be a Float32Array, Uint8Array or Int32Array");
  }
  return copyTypedArray(typed, dtype, shapeFrom(shape, what));
}

HostBuffer typedArrayFrom(const Napi::Value& value, napi_typedarray_type type, int64_t columns, const std::string& name) {
  Napi::Env env = value.Env();
  const bool isFloat = type == napi_float32_array;
  if (!value.IsTypedArray() || value.As<Napi::TypedArray>().TypedArrayType() != type) {
    throw Napi::TypeError::New(env, name + " must be a" + std::string(isFloat ? " Float32Array" : "n Int32Array"));
  }
  Napi::TypedArray typed = value.As<Napi::TypedArray>();
  const int64_t length = static_cast<int64_t>(typed.ElementLength());
  if (columns > 0 && length % columns != 0) {
    throw Napi::TypeError::New(env, name + " must hold rows of " + std::to_string(columns) +
                                        (columns == 4 ? " (x1, y1, x2, y2)" : "") + " values; its length " +
                                        std::to_string(length) + " is not a multiple of " + std::to_string(columns));
  }
  return copyTypedArray(typed, isFloat ? at::kFloat : at::kInt,
                        columns > 0 ? std::vector<int64_t>{length / columns, columns} : std::vector<int64_t>{length});
}

HostBuffer copyTypedArray(const Napi::TypedArray& typed, at::ScalarType dtype, std::vector<int64_t> shape) {
  const size_t byteLength = typed.ByteLength();  // 0 once the buffer was detached
  const void* data = byteLength == 0 ? nullptr : static_cast<const uint8_t*>(typed.ArrayBuffer().Data()) + typed.ByteOffset();
  return copyHostBuffer(data, byteLength, dtype, std::move(shape));
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

Napi::Value typedArrayToJs(Napi::Env env, const torch::Tensor& hostTensor) { return tensorToJs(env, hostTensor).Get("data"); }

Napi::Object namedTensorsToJs(Napi::Env env, const std::vector<std::pair<std::string, torch::Tensor>>& tensors) {
  Napi::Object out = Napi::Object::New(env);
  for (const auto& [name, tensor] : tensors) out.Set(name, tensorToJs(env, tensor));
  return out;
}

std::vector<std::pair<std::string, HostBuffer>> namedHostBuffersFrom(const Napi::Value& value, const std::string& what) {
  Napi::Env env = value.Env();
  if (!value.IsObject()) throw Napi::TypeError::New(env, what + " must be an object of {data, shape} entries");
  Napi::Object object = value.As<Napi::Object>();
  Napi::Array names = object.GetPropertyNames();
  std::vector<std::pair<std::string, HostBuffer>> out;
  for (uint32_t i = 0; i < names.Length(); ++i) {
    const std::string name = names.Get(i).As<Napi::String>().Utf8Value();
    Napi::Value entry = object.Get(name);
    if (!entry.IsObject()) throw Napi::TypeError::New(env, what + "['" + name + "'] must be {data, shape}");
    Napi::Object e = entry.As<Napi::Object>();
    out.emplace_back(name, hostBufferFrom(e.Get("data"), e.Get("shape"), what + "['" + name + "']"));
  }
  return out;
}

}  // namespace laxray::js
