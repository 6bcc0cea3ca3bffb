#include "trainer.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "anchors.h"
#include "tensor_io.h"

namespace laxray {
namespace {

void checkGroundTruth(const torch::Tensor& images, const std::vector<GroundTruth>& gt, int64_t numClasses) {
  if (static_cast<int64_t>(gt.size()) != images.size(0)) {
    throw std::invalid_argument("got " + std::to_string(gt.size()) + " target sets for " + std::to_string(images.size(0)) + " images");
  }
  const double height = static_cast<double>(images.size(2)), width = static_cast<double>(images.size(3));
  constexpr double slack = 1.0;  // rounding of resized coordinates
  for (size_t i = 0; i < gt.size(); ++i) {
    const torch::Tensor& boxes = gt[i].boxes;
    const torch::Tensor& labels = gt[i].labels;
    if (boxes.dim() != 2 || boxes.size(1) != 4 || labels.dim() != 1 || labels.size(0) != boxes.size(0)) {
      throw std::invalid_argument("image " + std::to_string(i) + ": boxes must be [K, 4] and labels [K], got " +
                                  shapeString(boxes.sizes()) + " and " + shapeString(labels.sizes()));
    }
    const GroundTruth& g = gt[i];
    if (g.padWidth < 0 || g.padHeight < 0 || g.padWidth > images.size(3) || g.padHeight > images.size(2)) {
      throw std::invalid_argument("image " + std::to_string(i) + ": its extent " + std::to_string(g.padWidth) + "x" +
                                  std::to_string(g.padHeight) + " does not fit the " + std::to_string(images.size(3)) + "x" +
                                  std::to_string(images.size(2)) + " batch (0 = the whole batch)");
    }
    auto b = boxes.to(torch::kCPU, torch::kDouble).contiguous();
    auto l = labels.to(torch::kCPU, torch::kLong).contiguous();
    const double* p = b.data_ptr<double>();
    const int64_t* q = l.data_ptr<int64_t>();
    for (int64_t k = 0; k < boxes.size(0); ++k) {
      const double x1 = p[4 * k], y1 = p[4 * k + 1], x2 = p[4 * k + 2], y2 = p[4 * k + 3];
      std::ostringstream box;
      box << "[" << x1 << ", " << y1 << ", " << x2 << ", " << y2 << "]";
      if (!std::isfinite(x1) || !std::isfinite(y1) || !std::isfinite(x2) || !std::isfinite(y2)) {
        throw std::invalid_argument("image " + std::to_string(i) + ", box " + std::to_string(k) + " " + box.str() + " is not finite");
      }
      if (x2 < x1 || y2 < y1) {
        throw std::invalid_argument("image " + std::to_string(i) + ", box " + std::to_string(k) + " " + box.str() +
                                    " has x2 < x1 or y2 < y1 (boxes are x1, y1, x2, y2)");
      }
      if (x1 < -slack || y1 < -slack || x2 > width + slack || y2 > height + slack) {
        throw std::invalid_argument("image " + std::to_string(i) + ", box " + std::to_string(k) + " " + box.str() +
                                    " lies outside the " + std::to_string(images.size(3)) + "x" + std::to_string(images.size(2)) +
                                    " input; clip or drop it when loading the dataset");
      }
      if (q[k] < 0 || q[k] >= numClasses) {
        throw std::invalid_argument("image " + std::to_string(i) + ", box " + std::to_string(k) + " has class id " +
                                    std::to_string(q[k]) + " but the model has " + std::to_string(numClasses) +
                                    " classes (0.." + std::to_string(numClasses - 1) + ")");
      }
    }
  }
}

// Per-anchor targets [N, A(, 4)] -> per-level maps the LA branch reads.
LabelAwareTargets labelAwareTargets(const AtssTargets& targets, const std::vector<torch::Tensor>& pyramid) {
  LabelAwareTargets out;
  int64_t start = 0;
  for (const torch::Tensor& level : pyramid) {
    const int64_t n = level.size(0), h = level.size(2), w = level.size(3);
    out.classLabels.push_back(targets.labels.slice(1, start, start + h * w).reshape({n, h, w}));
    out.binLabels.push_back(targets.distanceBins.slice(1, start, start + h * w).permute({0, 2, 1}).reshape({n, 4, h, w}));
    start += h * w;
  }
  return out;
}

// One copy to the host of everything a step reports: the loss terms (in
// DetectionLoss::named order), then numPositive, the gradient norm and whether
// the buffers are finite.
struct StepReadout {
  std::vector<std::pair<std::string, double>> losses;  // without "total"
  double total = 0;
  int64_t numPositive = 0;
  double gradNorm = 0;
  bool buffersFinite = true;
};

StepReadout readStep(const DetectionLoss& loss, const torch::Tensor& gradNorm, const torch::Tensor& buffersFinite) {
  std::vector<std::pair<std::string, torch::Tensor>> named = loss.named();
  std::vector<torch::Tensor> values;
  for (const auto& [name, value] : named) values.push_back(value.detach().to(torch::kDouble).reshape({}));
  values.push_back(loss.numPositive.to(torch::kDouble).reshape({}));
  values.push_back(gradNorm.to(torch::kDouble).reshape({}));
  values.push_back(buffersFinite.to(values.back().device(), torch::kDouble).reshape({}));
  torch::Tensor host = torch::stack(values).to(torch::kCPU);  // the step's one synchronisation
  const double* v = host.data_ptr<double>();
  StepReadout out;
  for (size_t i = 0; i < named.size(); ++i) {
    if (named[i].first == "total") {
      out.total = v[i];
    } else {
      out.losses.emplace_back(named[i].first, v[i]);
    }
  }
  out.numPositive = static_cast<int64_t>(v[named.size()]);
  out.gradNorm = v[named.size() + 1];
  out.buffersFinite = v[named.size() + 2] != 0;
  return out;
}

// One all-reduce per step: the job's images and positives, whether any
// process's loss is non-finite (then every process skips the step), and the
// losses averaged over processes (what the job reports).
void agreeOnStep(Collectives& peers, TrainStepResult& result) {
  std::vector<double> local{result.finite ? 0.0 : 1.0, static_cast<double>(result.images),
                            static_cast<double>(result.numPositive), result.total};
  for (const auto& [name, value] : result.losses) local.push_back(value);
  const std::vector<double> sum = peers.sumOverRanks(local, "agreeing on the step");
  const double world = peers.worldSize();
  result.finite = sum[0] == 0;
  result.images = static_cast<int64_t>(sum[1]);
  result.numPositive = static_cast<int64_t>(sum[2]);
  result.total = sum[3] / world;
  for (size_t i = 0; i < result.losses.size(); ++i) result.losses[i].second = sum[4 + i] / world;
}

// The gradients of every trainable parameter, in registration order (the same on every process).
std::vector<torch::Tensor> trainableGradients(torch::nn::Module& model) {
  std::vector<torch::Tensor> grads;
  for (const torch::Tensor& p : model.parameters(/*recurse=*/true)) {
    if (p.requires_grad() && p.grad().defined()) grads.push_back(p.grad());
  }
  return grads;
}

// Each buffer of the model (BN running statistics, num_batches_tracked) with a
// copy of it: a training forward pass moves them before the loss is known.
using BufferSnapshot = std::vector<std::pair<torch::Tensor, torch::Tensor>>;  // live, saved

BufferSnapshot snapshotBuffers(torch::nn::Module& model) {
  BufferSnapshot snapshot;
  for (const torch::Tensor& buffer : model.buffers(/*recurse=*/true)) snapshot.emplace_back(buffer, buffer.detach().clone());
  return snapshot;
}

void restoreBuffers(const BufferSnapshot& snapshot) {
  torch::NoGradGuard noGrad;
  for (const auto& [live, saved] : snapshot) live.copy_(saved);
}

// A bool scalar on the device, false when the forward pass left a NaN/Inf in a
// floating-point buffer (a BN variance overflows on huge activations while the
// normalised output, and so the loss, stays finite): committing it would poison
// every later forward. Read with the step's other values (readStep).
torch::Tensor buffersFinite(const BufferSnapshot& snapshot) {
  torch::NoGradGuard noGrad;
  std::vector<torch::Tensor> floating;
  for (const auto& [live, saved] : snapshot) {
    if (live.is_floating_point()) floating.push_back(live.reshape({-1}));
  }
  if (floating.empty()) return torch::ones({}, torch::kBool);
  return torch::isfinite(torch::cat(floating)).all();
}

}  // namespace

DetectionLoss trainingLosses(DetectorImpl& model, const torch::Tensor& images, const std::vector<GroundTruth>& gt,
                             const NormaliserMean& reduceMean) {
  checkImages(images);
  const ModelConfig& config = model.config();
  checkGroundTruth(images, gt, config.head.numClasses);
  std::vector<torch::Tensor> pyramid = model.pyramid(images);
  std::vector<std::pair<int64_t, int64_t>> sizes;
  std::vector<int64_t> perLevel;
  for (const torch::Tensor& p : pyramid) {
    sizes.emplace_back(p.size(2), p.size(3));
    perLevel.push_back(p.size(2) * p.size(3));
  }
  torch::Tensor anchors = generateAnchors(sizes, config.head.strides, config.head.anchorScale, images.device());
  std::vector<torch::Tensor> boxes, labels, valid;
  for (const GroundTruth& g : gt) {  // left where they are: buildTargets moves them over in one copy
    boxes.push_back(g.boxes);
    labels.push_back(g.labels);
    const int64_t width = g.padWidth > 0 ? g.padWidth : images.size(3);
    const int64_t height = g.padHeight > 0 ? g.padHeight : images.size(2);
    valid.push_back(validAnchorFlags(sizes, config.head.strides, width, height, images.device()));
  }
  AtssTargetConfig targetConfig;
  targetConfig.topk = config.assigner.topk;
  targetConfig.numClasses = config.head.numClasses;
  targetConfig.regMax = config.head.regMax;
  AtssTargets targets = buildTargets(anchors, perLevel, config.head.strides, boxes, labels, targetConfig, valid);
  LabelAwareTargets laTargets = labelAwareTargets(targets, pyramid);
  HeadOutputs outputs = model.head->forward(pyramid, &laTargets);
  return computeLosses(outputs, targets, config.loss, reduceMean);
}

Trainer::Trainer(Detector model, TrainerOptions options)
    : model_(std::move(model)),
      options_(options),
      sgd_(namedState(*model_), options.sgd),
      scaler_(model_->execution().precision == Precision::Fp16) {}

void Trainer::setOptions(TrainerOptions options) {
  options_ = options;
  sgd_.setOptions(options.sgd);
}

std::vector<std::pair<std::string, torch::Tensor>> Trainer::optimizerState() const {
  auto state = sgd_.state();
  if (scaler_.enabled()) {
    const auto [scale, goodSteps] = scaler_.state();
    state.emplace_back(kLossScalerEntry, torch::tensor({static_cast<float>(scale), static_cast<float>(goodSteps)}));  // both exact in float32
  }
  return state;
}

void Trainer::loadOptimizerState(std::vector<std::pair<std::string, torch::Tensor>> state) {
  LossScaler restored = scaler_;
  auto entry = std::find_if(state.begin(), state.end(), [](const auto& named) { return named.first == kLossScalerEntry; });
  if (entry != state.end()) {
    const torch::Tensor values = entry->second.to(torch::kCPU, torch::kFloat64).flatten();
    if (values.numel() != 2) {
      throw std::invalid_argument(std::string(kLossScalerEntry) + ": expected [scale, finite steps], got " + std::to_string(values.numel()) + " values");
    }
    if (restored.enabled()) restored.restore(values[0].item<double>(), values[1].item<double>(), kLossScalerEntry);
    state.erase(entry);
  }
  sgd_.loadState(state);
  scaler_ = restored;  // only once the momentum was accepted too
}

TrainStepResult Trainer::step(const torch::Tensor& images, const std::vector<GroundTruth>& gt, double lr, Collectives* peers) {
  PrecisionScope precision(model_->execution(), images.device());
  model_->train(true);
  sgd_.zeroGrad();
  // A skipped step (non-finite loss, gradient or BN statistic on any process,
  // or an exception before the update) leaves parameters, momentum and buffers
  // exactly as they were.
  const BufferSnapshot buffers = snapshotBuffers(*model_);
  NormaliserMean reduceMean;
  if (peers != nullptr) {
    reduceMean = [peers](const torch::Tensor& normalisers) {
      torch::Tensor mean = normalisers.clone();
      peers->averageOverRanks({mean}, "the loss normalisers");
      return mean;
    };
  }
  TrainStepResult result;
  try {
    DetectionLoss loss = trainingLosses(*model_, images, gt, reduceMean);
    // Backward whatever the loss: a non-finite loss gives non-finite gradients,
    // which every process sees after the all-reduce, and the step is skipped.
    (scaler_.enabled() ? loss.total * scaler_.scale() : loss.total).backward();
    if (peers != nullptr) peers->averageOverRanks(trainableGradients(*model_), "the gradient all-reduce");
    if (scaler_.enabled()) sgd_.scaleGradients(1.0 / scaler_.scale());
    StepReadout read = readStep(loss, sgd_.gradNormTensor(), buffersFinite(buffers));
    result.losses = read.losses;
    result.total = read.total;
    result.numPositive = read.numPositive;
    result.images = images.size(0);
    result.gradNorm = read.gradNorm;
    result.finite = std::isfinite(result.total) && std::isfinite(result.gradNorm) && read.buffersFinite;
    scaler_.update(std::isfinite(result.gradNorm));
    if (peers != nullptr) agreeOnStep(*peers, result);
  } catch (...) {
    restoreBuffers(buffers);
    sgd_.zeroGrad();
    throw;
  }
  if (result.finite) {
    if (options_.gradClipNorm > 0) sgd_.clipGradients(options_.gradClipNorm, result.gradNorm);
    sgd_.step(lr);
  } else {
    restoreBuffers(buffers);
  }
  sgd_.zeroGrad();
  return result;
}

}  // namespace laxray
