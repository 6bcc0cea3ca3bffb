// How a detector runs its tensor work: numeric precision (autocast), memory
// layout and cuDNN autotuning — the top-level `precision`, `channelsLast`,
// `cudnnBenchmark` and `labelAwarePrecision` of the config. The model's maths
// is the same in every setting; only the arithmetic changes.
//   fp32  float32 everywhere (on CUDA TF32 is switched off for convs and matmuls)
//   tf32  float32 tensors, TF32 tensor-core convs and matmuls on CUDA (same as
//         fp32 on the CPU, which has no TF32)
//   bf16  autocast to bfloat16 (CUDA and CPU)
//   fp16  autocast to float16 with dynamic loss scaling (CUDA only: LibTorch
//         1.13's CPU autocast knows bfloat16 only)
// LA's gradient passes and its reweighting x·(a + b·w1 − c·w2) stay in
// float32 under bf16/fp16 unless labelAwarePrecision is 'compute': w1 − w2 is
// small (≈ 0.01 for a fresh head), below bf16's resolution of x.
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>

#include "input.h"

namespace laxray {

enum class Precision { Fp32, Tf32, Bf16, Fp16 };

struct ExecutionConfig {
  Precision precision = Precision::Fp32;
  bool channelsLast = false;
  bool cudnnBenchmark = true;  // CUDA only
  bool labelAwareInCompute = false;  // true: LA runs in the compute precision too
  InputNormalisation pixels;  // how uint8 batches become the network input (data.mean / data.std)
};

// "fp32" | "tf32" | "bf16" | "fp16"; anything else throws std::invalid_argument.
Precision precisionFromString(const std::string& name);
std::string precisionName(Precision precision);

// Throws std::invalid_argument when `config` cannot run on `device` (fp16 on the CPU).
void checkExecution(const ExecutionConfig& config, const torch::Device& device);

// Applies the process-wide settings a detector on `device` needs once
// (cuDNN benchmark mode). Safe to call for every detector.
void applyProcessSettings(const ExecutionConfig& config, const torch::Device& device);

// Converts the model's 4-D weights to channels-last when the config asks for it.
void applyLayout(torch::nn::Module& model, const ExecutionConfig& config);

// The input layout the config asks for: images [N, 3, H, W] as channels-last or contiguous.
torch::Tensor withLayout(const torch::Tensor& images, const ExecutionConfig& config);

// For the duration of one call on this thread: autocast on (bf16, fp16) and
// the TF32 switches of `config`. Restores the previous state on exit.
class PrecisionScope {
 public:
  PrecisionScope(const ExecutionConfig& config, const torch::Device& device);
  ~PrecisionScope();
  PrecisionScope(const PrecisionScope&) = delete;
  PrecisionScope& operator=(const PrecisionScope&) = delete;

 private:
  bool cpuAutocast_, cudaAutocast_;
  at::ScalarType cpuDtype_, cudaDtype_;
  bool tf32Cudnn_, tf32Cublas_;
  bool labelAwareInCompute_;
  bool autocast_;
};

// Inside LA: autocast off (float32) unless the current PrecisionScope lets LA
// run in the compute precision. Tensors entering the scope must be cast with
// fullPrecision() by the caller.
class LabelAwarePrecisionScope {
 public:
  LabelAwarePrecisionScope();
  ~LabelAwarePrecisionScope();
  LabelAwarePrecisionScope(const LabelAwarePrecisionScope&) = delete;
  LabelAwarePrecisionScope& operator=(const LabelAwarePrecisionScope&) = delete;
  // x as float32 when LA runs in float32, else unchanged.
  torch::Tensor input(const torch::Tensor& x) const;

 private:
  bool active_;  // autocast was switched off here
  bool cpuAutocast_, cudaAutocast_;
};

// Dynamic loss scaling for fp16 training (torch.cuda.amp.GradScaler's rule):
// the loss is multiplied by `scale` before backward; a step whose gradients
// overflow is skipped and halves the scale; `growthInterval` finite steps in a
// row double it.
class LossScaler {
 public:
  explicit LossScaler(bool enabled, double initialScale = 65536.0, int64_t growthInterval = 2000);
  bool enabled() const { return enabled_; }
  double scale() const { return enabled_ ? scale_ : 1.0; }
  // After a step: finite gradients grow the scale in time, an overflow halves it.
  void update(bool finiteGradients);

  // For checkpoints (as GradScaler's state_dict): the scale and the finite
  // steps since it last changed. restore() checks them (a finite scale ≥ 1, a
  // whole step count below the growth interval) and throws
  // std::invalid_argument naming `what` otherwise.
  std::pair<double, int64_t> state() const { return {scale_, goodSteps_}; }
  void restore(double scale, double goodSteps, const std::string& what);

 private:
  bool enabled_;
  double scale_;
  int64_t growthInterval_;
  int64_t goodSteps_ = 0;
};

}  // namespace laxray
