#include "trainer.h"

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

}  // namespace

DetectionLoss trainingLosses(DetectorImpl& model, const torch::Tensor& images, const std::vector<GroundTruth>& gt) {
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
  std::vector<torch::Tensor> boxes, labels;
  for (const GroundTruth& g : gt) {
    boxes.push_back(g.boxes.to(images.device(), torch::kFloat));
    labels.push_back(g.labels.to(images.device(), torch::kLong));
  }
  AtssTargetConfig targetConfig;
  targetConfig.topk = config.assigner.topk;
  targetConfig.numClasses = config.head.numClasses;
  targetConfig.regMax = config.head.regMax;
  AtssTargets targets = buildTargets(anchors, perLevel, config.head.strides, boxes, labels, targetConfig);
  LabelAwareTargets laTargets = labelAwareTargets(targets, pyramid);
  HeadOutputs outputs = model.head->forward(pyramid, &laTargets);
  return computeLosses(outputs, targets, config.loss);
}

Trainer::Trainer(Detector model, TrainerOptions options)
    : model_(std::move(model)), options_(options), sgd_(namedState(*model_), options.sgd) {}

void Trainer::setOptions(TrainerOptions options) {
  options_ = options;
  sgd_.setOptions(options.sgd);
}

TrainStepResult Trainer::step(const torch::Tensor& images, const std::vector<GroundTruth>& gt, double lr) {
  PrecisionScope precision(model_->execution(), images.device());
  model_->train(true);
  sgd_.zeroGrad();
  DetectionLoss loss = trainingLosses(*model_, images, gt);
  TrainStepResult result;
  for (const auto& [name, value] : loss.named()) {
    if (name != "total") result.losses.emplace_back(name, value.item<double>());
  }
  result.total = loss.total.item<double>();
  result.numPositive = loss.numPositive;
  result.finite = std::isfinite(result.total);
  if (result.finite) {
    loss.total.backward();
    result.gradNorm = options_.gradClipNorm > 0 ? sgd_.clipGradNorm(options_.gradClipNorm) : sgd_.gradNorm();
    result.finite = std::isfinite(result.gradNorm);
  }
  if (result.finite) sgd_.step(lr);
  sgd_.zeroGrad();
  return result;
}

}  // namespace laxray
