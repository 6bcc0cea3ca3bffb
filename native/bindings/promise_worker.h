// Runs tensor work on a libuv worker thread and settles a Promise with the
// result, so the event loop never waits for LibTorch. Every async binding is a
// PromiseWorker: `compute` runs off the JS thread (no N-API there), `convert`
// turns its result into a JS value back on the JS thread.
#pragma once

#include <napi.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "bindings/convert.h"
#include "runtime.h"

namespace laxray::js {

template <typename Result>
class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Compute = std::function<Result()>;
  using Convert = std::function<Napi::Value(Napi::Env, Result&)>;

  // `keepAlive`: JS values held by the worker until the Promise settles.
  // `compute` must not read JS memory (typed arrays): copy it on the JS
  // thread first (hostBufferFrom), since the caller may change or transfer it
  // as soon as Run returns.
  static Napi::Promise Run(Napi::Env env, std::string what, Compute compute, Convert convert,
                           const std::vector<Napi::Value>& keepAlive = {}) {
    auto* worker = new PromiseWorker(env, std::move(what), std::move(compute), std::move(convert));
    for (const Napi::Value& value : keepAlive) worker->keepAlive_.push_back(Napi::Persistent(value));
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    try {
      ComputeThreads threads;  // this call's share of the intra-op threads
      result_ = compute_();
    } catch (...) {
      SetError(prefixed(what_, describeCurrentException()));
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(convert_(env, result_));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (...) {
      deferred_.Reject(Napi::Error::New(env, prefixed(what_, describeCurrentException())).Value());
    }
  }

  void OnError(const Napi::Error& error) override { deferred_.Reject(error.Value()); }

 private:
  PromiseWorker(Napi::Env env, std::string what, Compute compute, Convert convert)
      : Napi::AsyncWorker(env, what.c_str()),
        deferred_(Napi::Promise::Deferred::New(env)),
        what_(std::move(what)),
        compute_(std::move(compute)),
        convert_(std::move(convert)) {}

  Napi::Promise::Deferred deferred_;
  std::string what_;
  Compute compute_;
  Convert convert_;
  Result result_{};
  std::vector<Napi::Reference<Napi::Value>> keepAlive_;
};

}  // namespace laxray::js
