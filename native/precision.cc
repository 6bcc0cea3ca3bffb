#include "precision.h"

#include <ATen/autocast_mode.h>

#include <cmath>
#include <stdexcept>

#include "compat.h"

namespace laxray {
namespace {

// Set by PrecisionScope for the call running on this thread: may LA use the compute precision?
thread_local bool labelAwareInCompute = false;

at::ScalarType lowPrecisionType(Precision p) { return p == Precision::Fp16 ? at::kHalf : at::kBFloat16; }

}  // namespace

Precision precisionFromString(const std::string& name) {
  if (name == "fp32") return Precision::Fp32;
  if (name == "tf32") return Precision::Tf32;
  if (name == "bf16") return Precision::Bf16;
  if (name == "fp16") return Precision::Fp16;
  throw std::invalid_argument("precision must be 'fp32', 'tf32', 'bf16' or 'fp16', got '" + name + "'");
}

std::string precisionName(Precision precision) {
  switch (precision) {
    case Precision::Fp32: return "fp32";
    case Precision::Tf32: return "tf32";
    case Precision::Bf16: return "bf16";
    case Precision::Fp16: return "fp16";
  }
  return "fp32";
}

void checkExecution(const ExecutionConfig& config, const torch::Device& device) {
  if (config.precision == Precision::Fp16 && device.is_cpu()) {
    throw std::invalid_argument(
        "precision 'fp16' needs a CUDA device: LibTorch's CPU autocast supports bfloat16 only. Use precision 'bf16' "
        "(or 'fp32') on the CPU, or device 'cuda'");
  }
}

void applyProcessSettings(const ExecutionConfig& config, const torch::Device& device) {
  // Process-wide in LibTorch; only switched on (a detector asking for it), never off behind another's back.
  if (device.is_cuda() && config.cudnnBenchmark) at::globalContext().setBenchmarkCuDNN(true);
}

void applyLayout(torch::nn::Module& model, const ExecutionConfig& config) {
  if (!config.channelsLast) return;
  torch::NoGradGuard noGrad;
  for (torch::Tensor& p : model.parameters()) {
    if (p.dim() == 4) p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
  }
}

torch::Tensor withLayout(const torch::Tensor& images, const ExecutionConfig& config) {
  return config.channelsLast ? images.contiguous(at::MemoryFormat::ChannelsLast) : images;
}

PrecisionScope::PrecisionScope(const ExecutionConfig& config, const torch::Device& device)
    : cpuAutocast_(autocastEnabled(at::kCPU)),
      cudaAutocast_(autocastEnabled(at::kCUDA)),
      cpuDtype_(autocastDtype(at::kCPU)),
      cudaDtype_(autocastDtype(at::kCUDA)),
      tf32Cudnn_(at::globalContext().allowTF32CuDNN()),
      tf32Cublas_(at::globalContext().allowTF32CuBLAS()),
      labelAwareInCompute_(labelAwareInCompute),
      autocast_(config.precision == Precision::Bf16 || config.precision == Precision::Fp16) {
  checkExecution(config, device);
  const at::DeviceType type = device.is_cuda() ? at::kCUDA : at::kCPU;
  if (autocast_) {
    setAutocastDtype(type, lowPrecisionType(config.precision));
    setAutocastEnabled(type, true);
    at::autocast::increment_nesting();
  }
  if (device.is_cuda()) {
    const bool tf32 = config.precision == Precision::Tf32;
    at::globalContext().setAllowTF32CuDNN(tf32);
    at::globalContext().setAllowTF32CuBLAS(tf32);
  }
  labelAwareInCompute = config.labelAwareInCompute;
}

PrecisionScope::~PrecisionScope() {
  if (autocast_ && at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();  // cached low-precision weights
  setAutocastEnabled(at::kCPU, cpuAutocast_);
  setAutocastEnabled(at::kCUDA, cudaAutocast_);
  setAutocastDtype(at::kCPU, cpuDtype_);
  setAutocastDtype(at::kCUDA, cudaDtype_);
  at::globalContext().setAllowTF32CuDNN(tf32Cudnn_);
  at::globalContext().setAllowTF32CuBLAS(tf32Cublas_);
  labelAwareInCompute = labelAwareInCompute_;
}

LabelAwarePrecisionScope::LabelAwarePrecisionScope()
    : active_(false), cpuAutocast_(autocastEnabled(at::kCPU)), cudaAutocast_(autocastEnabled(at::kCUDA)) {
  if ((cpuAutocast_ || cudaAutocast_) && !labelAwareInCompute) {
    setAutocastEnabled(at::kCPU, false);
    setAutocastEnabled(at::kCUDA, false);
    active_ = true;
  }
}

LabelAwarePrecisionScope::~LabelAwarePrecisionScope() {
  if (!active_) return;
  setAutocastEnabled(at::kCPU, cpuAutocast_);
  setAutocastEnabled(at::kCUDA, cudaAutocast_);
}

torch::Tensor LabelAwarePrecisionScope::input(const torch::Tensor& x) const {
  return active_ ? x.to(torch::kFloat) : x;
}

LossScaler::LossScaler(bool enabled, double initialScale, int64_t growthInterval)
    : enabled_(enabled), scale_(initialScale), growthInterval_(growthInterval) {}

void LossScaler::update(bool finiteGradients) {
  if (!enabled_) return;
  if (!finiteGradients) {
    scale_ = std::max(1.0, scale_ * 0.5);
    goodSteps_ = 0;
  } else if (++goodSteps_ >= growthInterval_) {
    scale_ *= 2.0;
    goodSteps_ = 0;
  }
}

void LossScaler::restore(double scale, double goodSteps, const std::string& what) {
  if (!std::isfinite(scale) || scale < 1.0) {
    throw std::invalid_argument(what + ": the loss scale must be a finite number >= 1, got " + std::to_string(scale));
  }
  if (!(goodSteps >= 0) || goodSteps >= static_cast<double>(growthInterval_) || std::floor(goodSteps) != goodSteps) {
    throw std::invalid_argument(what + ": the finite steps since the scale changed must be a whole number in 0.." +
                                std::to_string(growthInterval_ - 1) + ", got " + std::to_string(goodSteps));
  }
  scale_ = scale;
  goodSteps_ = static_cast<int64_t>(goodSteps);
}

}  // namespace laxray
