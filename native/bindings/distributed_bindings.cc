// createProcessGroup(options) -> NativeProcessGroup: the c10d process group of
// a data-parallel job (native/distributed/process_group.h). Every method
// returns a Promise and runs on a worker thread: rendezvous and collectives
// block until the other ranks arrive (or the timeout).
#include <memory>
#include <string>
#include <vector>

#include "bindings/distributed_bindings.h"
#include "bindings/promise_worker.h"
#include "bindings/registry.h"
#include "distributed/process_group.h"

namespace laxray::js {
namespace {

using GroupPtr = std::shared_ptr<DataParallelGroup>;

std::string bytesArg(const Napi::CallbackInfo& info, size_t index, const std::string& name) {
  if (info.Length() <= index || !info[index].IsTypedArray() ||
      info[index].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(info.Env(), name + " must be a Uint8Array");
  }
  Napi::Uint8Array bytes = info[index].As<Napi::Uint8Array>();
  return {reinterpret_cast<const char*>(bytes.Data()), bytes.ElementLength()};
}

Napi::Uint8Array bytesToJs(Napi::Env env, const std::string& bytes) {
  Napi::Uint8Array out = Napi::Uint8Array::New(env, bytes.size());
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(out.Data()));
  return out;
}

Napi::Value undefinedResult(Napi::Env env, bool&) { return env.Undefined(); }

class NativeProcessGroup : public Napi::ObjectWrap<NativeProcessGroup> {
 public:
  static Napi::Function DefineClass(Napi::Env env) {
    return ObjectWrap<NativeProcessGroup>::DefineClass(
        env, "NativeProcessGroup",
        {InstanceAccessor<&NativeProcessGroup::Rank>("rank"),
         InstanceAccessor<&NativeProcessGroup::WorldSize>("worldSize"),
         InstanceMethod<&NativeProcessGroup::SumOverRanks>("sumOverRanks"),
         InstanceMethod<&NativeProcessGroup::BroadcastBytes>("broadcastBytes"),
         InstanceMethod<&NativeProcessGroup::AllGatherBytes>("allGatherBytes"),
         InstanceMethod<&NativeProcessGroup::Barrier>("barrier"),
         InstanceMethod<&NativeProcessGroup::ReportFailure>("reportFailure"),
         InstanceMethod<&NativeProcessGroup::Close>("close")});
  }

  explicit NativeProcessGroup(const Napi::CallbackInfo& info) : ObjectWrap<NativeProcessGroup>(info) {
    if (info.Length() != 1 || !info[0].IsExternal()) {
      throw Napi::TypeError::New(info.Env(), "NativeProcessGroup cannot be constructed directly; use createProcessGroup()");
    }
    group_ = *info[0].As<Napi::External<GroupPtr>>().Data();
  }

  static Napi::Object NewInstance(Napi::Env env, GroupPtr group) {
    auto* owned = new GroupPtr(std::move(group));
    return env.GetInstanceData<AddonData>()->processGroupConstructor.New(
        {Napi::External<GroupPtr>::New(env, owned, [](Napi::Env, GroupPtr* p) { delete p; })});
  }

  const GroupPtr& group() const { return group_; }

 private:
  Napi::Value Rank(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), group_->rank()); }
  Napi::Value WorldSize(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), group_->worldSize()); }

  // sumOverRanks(values: Float64Array): Promise<Float64Array>
  Napi::Value SumOverRanks(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array) {
      throw Napi::TypeError::New(info.Env(), "sumOverRanks(values: Float64Array)");
    }
    Napi::Float64Array array = info[0].As<Napi::Float64Array>();
    std::vector<double> values(array.Data(), array.Data() + array.ElementLength());
    GroupPtr g = group_;
    return PromiseWorker<std::vector<double>>::Run(
        info.Env(), "sumOverRanks", [g, values] { return g->sumOverRanks(values, "sumOverRanks"); },
        [](Napi::Env env, std::vector<double>& sum) -> Napi::Value {
          Napi::Float64Array out = Napi::Float64Array::New(env, sum.size());
          std::copy(sum.begin(), sum.end(), out.Data());
          return out;
        });
  }

  // broadcastBytes(bytes: Uint8Array): Promise<Uint8Array> (rank 0's bytes on every rank)
  Napi::Value BroadcastBytes(const Napi::CallbackInfo& info) {
    std::string bytes = bytesArg(info, 0, "broadcastBytes: bytes");
    GroupPtr g = group_;
    return PromiseWorker<std::string>::Run(
        info.Env(), "broadcastBytes", [g, bytes] { return g->broadcastBytes(bytes, "broadcasting rank 0's data"); },
        [](Napi::Env env, std::string& out) -> Napi::Value { return bytesToJs(env, out); });
  }

  // allGatherBytes(bytes: Uint8Array): Promise<Uint8Array[]> (by rank)
  Napi::Value AllGatherBytes(const Napi::CallbackInfo& info) {
    std::string bytes = bytesArg(info, 0, "allGatherBytes: bytes");
    GroupPtr g = group_;
    return PromiseWorker<std::vector<std::string>>::Run(
        info.Env(), "allGatherBytes", [g, bytes] { return g->allGatherBytes(bytes, "gathering every rank's data"); },
        [](Napi::Env env, std::vector<std::string>& all) -> Napi::Value {
          Napi::Array out = Napi::Array::New(env, all.size());
          for (size_t r = 0; r < all.size(); ++r) out.Set(static_cast<uint32_t>(r), bytesToJs(env, all[r]));
          return out;
        });
  }

  // barrier(what?: string): Promise<void>
  Napi::Value Barrier(const Napi::CallbackInfo& info) {
    const std::string what = optionalStringArg(info, 0, "barrier", "barrier: what");
    GroupPtr g = group_;
    return PromiseWorker<bool>::Run(
        info.Env(), "barrier",
        [g, what] {
          g->barrier(what);
          return true;
        },
        undefinedResult);
  }

  // reportFailure(message: string): Promise<void> — leaves the message for the other ranks' errors.
  Napi::Value ReportFailure(const Napi::CallbackInfo& info) {
    const std::string message = stringArg(info, 0, "reportFailure: message");
    GroupPtr g = group_;
    return PromiseWorker<bool>::Run(
        info.Env(), "reportFailure",
        [g, message] {
          g->reportFailure(message);
          return true;
        },
        undefinedResult);
  }

  // close(): Promise<void>
  Napi::Value Close(const Napi::CallbackInfo& info) {
    GroupPtr g = group_;
    return PromiseWorker<bool>::Run(
        info.Env(), "close",
        [g] {
          g->shutdown();
          return true;
        },
        undefinedResult);
  }

  GroupPtr group_;
};

// createProcessGroup({rank, worldSize, masterAddr, masterPort, backend, timeoutMs, device, bucketBytes?}):
//   Promise<NativeProcessGroup>, settled once every rank has joined (or with the rendezvous error).
Napi::Value CreateProcessGroup(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "createProcessGroup(options: object)");
  Napi::Object o = info[0].As<Napi::Object>();
  ProcessGroupOptions options;
  options.rank = static_cast<int>(numberField(o, "rank", options.rank, "distributed"));
  options.worldSize = static_cast<int>(numberField(o, "worldSize", options.worldSize, "distributed"));
  options.masterAddr = stringField(o, "masterAddr", options.masterAddr, "distributed");
  options.masterPort = static_cast<int>(numberField(o, "masterPort", options.masterPort, "distributed"));
  options.backend = stringField(o, "backend", options.backend, "distributed");
  options.timeout = std::chrono::milliseconds(static_cast<int64_t>(numberField(o, "timeoutMs", 60000, "distributed")));
  options.device = stringField(o, "device", options.device, "distributed");
  options.bucketBytes = static_cast<int64_t>(numberField(o, "bucketBytes", static_cast<double>(options.bucketBytes), "distributed"));
  guarded(info.Env(), "createProcessGroup", [&] { checkProcessGroupOptions(options); });
  return PromiseWorker<GroupPtr>::Run(
      info.Env(), "createProcessGroup", [options] { return std::make_shared<DataParallelGroup>(options); },
      [](Napi::Env env, GroupPtr& group) -> Napi::Value { return NativeProcessGroup::NewInstance(env, group); });
}

}  // namespace

std::shared_ptr<DataParallelGroup> processGroupFrom(const Napi::Value& value, const std::string& what) {
  if (value.IsNull() || value.IsUndefined()) return nullptr;
  Napi::Env env = value.Env();
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(env.GetInstanceData<AddonData>()->processGroupConstructor.Value())) {
    throw Napi::TypeError::New(env, what + " must be a process group from createProcessGroup(), or null");
  }
  return NativeProcessGroup::Unwrap(value.As<Napi::Object>())->group();
}

void registerDistributedBindings(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = NativeProcessGroup::DefineClass(env);
  env.GetInstanceData<AddonData>()->processGroupConstructor = Napi::Persistent(cls);
  exports.Set("NativeProcessGroup", cls);
  exports.Set("createProcessGroup", Napi::Function::New<CreateProcessGroup>(env, "createProcessGroup"));
}

}  // namespace laxray::js
