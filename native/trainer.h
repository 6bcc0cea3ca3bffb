// One training step of the detector: forward with the ATSS assignment (the LA
// branch gets the assigned labels), the losses, backward, optional gradient
// clipping and the SGD update. A non-finite loss, gradient or BN statistic
// skips the update, and a skipped or failed step changes nothing (the BN
// statistics the forward pass moved are put back).
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "detector.h"
#include "losses.h"
#include "sgd.h"

namespace laxray {

// One image's ground truth in input pixels (after resize and flip).
struct GroundTruth {
  torch::Tensor boxes;   // [K, 4] float x1y1x2y2
  torch::Tensor labels;  // [K] int64, 0..numClasses−1
};

struct TrainStepResult {
  std::vector<std::pair<std::string, double>> losses;  // cls, box, quality[, distribution]
  double total = 0;
  bool finite = true;  // false: NaN/Inf loss, gradient or BN statistics; the step was skipped, the model is unchanged
  int64_t numPositive = 0;
  double gradNorm = 0;  // before clipping
};

struct TrainerOptions {
  SgdOptions sgd;
  double gradClipNorm = 0;  // <= 0: no clipping
};

// Checks images and gt (boxes inside the padded input, x2 >= x1, known class
// ids) and returns the detector's losses on them; the LA branch sees the
// assigned class labels (LAcls) or target bins (LAreg).
DetectionLoss trainingLosses(DetectorImpl& model, const torch::Tensor& images, const std::vector<GroundTruth>& gt);

class Trainer {
 public:
  Trainer(Detector model, TrainerOptions options);

  TrainStepResult step(const torch::Tensor& images, const std::vector<GroundTruth>& gt, double lr);

  Sgd& optimizer() { return sgd_; }
  void setOptions(TrainerOptions options);

 private:
  Detector model_;
  TrainerOptions options_;
  Sgd sgd_;
};

}  // namespace laxray
