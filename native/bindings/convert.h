// The N-API edge's shared helpers: JS values -> C++ values and tensors, tensors
// -> JS values, and C++ exceptions -> JS errors. Every binding file uses these
// so that the edge stays uniform (and the model code never sees N-API).
#pragma once

#include <napi.h>
#include <torch/torch.h>

#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "tensor_io.h"

namespace laxray::js {

// A message for the exception currently being handled; c10::Error loses its
// C++ backtrace, anything unknown says so.
std::string describeCurrentException();

// "what: message", unless the message already starts with `what`.
std::string prefixed(const std::string& what, const std::string& message);

// Runs `body`, turning any C++ exception into a JS Error prefixed by `what`.
template <typename Body>
auto guarded(const Napi::Env& env, const std::string& what, Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw Napi::Error::New(env, prefixed(what, describeCurrentException()));
  }
}

std::string stringArg(const Napi::CallbackInfo& info, size_t index, const std::string& name);
// Absent, undefined or null -> `fallback`; another non-string -> TypeError.
std::string optionalStringArg(const Napi::CallbackInfo& info, size_t index, const std::string& fallback, const std::string& name);
double numberArg(const Napi::CallbackInfo& info, size_t index, const std::string& name);
// Optional fields of a config object; `path` names the object in errors
// ("model.head"). Absent or undefined -> the default; wrong type -> TypeError.
double numberField(const Napi::Object& object, const char* key, double fallback, const std::string& path);
bool boolField(const Napi::Object& object, const char* key, bool fallback, const std::string& path);
std::string stringField(const Napi::Object& object, const char* key, const std::string& fallback, const std::string& path);
std::vector<int64_t> intArrayField(const Napi::Object& object, const char* key, const std::vector<int64_t>& fallback,
                                   const std::string& path);
Napi::Object objectField(const Napi::Object& object, const char* key, const std::string& path);
// Required fields: absent or undefined -> TypeError "path.key is missing".
Napi::Value requiredField(const Napi::Object& object, const char* key, const std::string& path);
double requiredNumberField(const Napi::Object& object, const char* key, const std::string& path);

std::vector<int64_t> shapeFrom(const Napi::Value& value, const std::string& what);

// A copy of a Float32Array / Uint8Array / Int32Array, plus a shape. Made on the
// JS thread before the binding returns: the caller may rewrite, transfer or
// drop the array at once (the work that reads the copy runs later).
HostBuffer hostBufferFrom(const Napi::Value& array, const Napi::Value& shape, const std::string& what);

// A copy of a typed array that must be of `type` (Float32Array or Int32Array),
// shaped [length / columns, columns] (columns 0: 1-D [length]); `name` in errors.
HostBuffer typedArrayFrom(const Napi::Value& value, napi_typedarray_type type, int64_t columns, const std::string& name);

// A copy of a typed array's bytes (TypedArrayType already checked by the caller).
HostBuffer copyTypedArray(const Napi::TypedArray& typed, at::ScalarType dtype, std::vector<int64_t> shape);

// {data, shape} from a contiguous CPU tensor (float32, uint8 or int32) that
// nothing else holds (toHostTensor's result). The typed array views the
// tensor's memory (no copy); the tensor is freed when the array is collected.
Napi::Object tensorToJs(Napi::Env env, const torch::Tensor& hostTensor);
// The same, only the typed array (the caller knows the shape).
Napi::Value typedArrayToJs(Napi::Env env, const torch::Tensor& hostTensor);

// {name: {data, shape}} from named host tensors (see toHostTensor).
Napi::Object namedTensorsToJs(Napi::Env env, const std::vector<std::pair<std::string, torch::Tensor>>& tensors);

// Named host buffers (copies, see hostBufferFrom) from {name: {data, shape}}.
std::vector<std::pair<std::string, HostBuffer>> namedHostBuffersFrom(const Napi::Value& value, const std::string& what);

}  // namespace laxray::js
