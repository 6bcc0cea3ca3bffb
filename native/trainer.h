// One training step of the detector: forward with the ATSS assignment (the LA
// branch gets the assigned labels), the losses, backward, optional gradient
// clipping and the SGD update. A non-finite loss, gradient or BN statistic
// skips the update, and a skipped or failed step changes nothing (the BN
// statistics the forward pass moved are put back). On a GPU the step queues
// its work without waiting for the device, except once: the loss terms,
// positives, gradient norm and the buffers' finiteness come back in one copy,
// which decides the update (and clipping). In fp16 the loss is scaled
// (LossScaler) and an overflowing step is skipped like any non-finite one.
//
// Data-parallel (a Collectives given): the loss normalisers are averaged over
// the processes, the processes agree on whether every loss is finite (one
// non-finite loss skips the step everywhere), and the gradients are averaged
// over them (bucketed) between backward and clipping, so every process applies
// the same update: that of one process on the whole global batch.
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

#include "detector.h"
#include "distributed/collectives.h"
#include "losses.h"
#include "sgd.h"

namespace laxray {

// One image's ground truth in input pixels (after resize and flip).
struct GroundTruth {
  torch::Tensor boxes;   // [K, 4] float x1y1x2y2
  torch::Tensor labels;  // [K] int64, 0..numClasses−1
  // The image's extent in the batch, mmdetection's pad_shape (its resized size
  // rounded up to the pad divisor): anchors centred beyond it sit on padding
  // added for larger images and are left out of assignment and losses.
  // 0 = the whole batch.
  int64_t padWidth = 0;
  int64_t padHeight = 0;
};

struct TrainStepResult {
  std::vector<std::pair<std::string, double>> losses;  // cls, box, quality[, distribution]; mean over processes
  double total = 0;
  bool finite = true;  // false: NaN/Inf loss, gradient or BN statistics (on any process); the step was skipped, the model is unchanged
  int64_t numPositive = 0;  // over the global batch
  int64_t images = 0;       // in the global batch
  double gradNorm = 0;  // before clipping
};

struct TrainerOptions {
  SgdOptions sgd;
  double gradClipNorm = 0;  // <= 0: no clipping
};

// Checks images and gt (boxes inside the padded input, x2 >= x1, known class
// ids, pad extents within the batch) and returns the detector's losses on
// them; the LA branch sees the assigned class labels (LAcls) or target bins
// (LAreg). `reduceMean` averages the loss normalisers over data-parallel processes.
DetectionLoss trainingLosses(DetectorImpl& model, const torch::Tensor& images, const std::vector<GroundTruth>& gt,
                             const NormaliserMean& reduceMean = {});

// The loss scaler's entry among the optimizer state (no parameter has this name).
inline constexpr const char* kLossScalerEntry = "amp.loss_scaler";

class Trainer {
 public:
  Trainer(Detector model, TrainerOptions options);

  // `peers`: the other processes of a data-parallel job (every one calls step
  // with its own share of the global batch); null: this process alone.
  TrainStepResult step(const torch::Tensor& images, const std::vector<GroundTruth>& gt, double lr, Collectives* peers = nullptr);

  Sgd& optimizer() { return sgd_; }
  void setOptions(TrainerOptions options);

  // What a checkpoint keeps besides the weights: the momentum buffers by
  // parameter name and, in fp16, the loss scaler as kLossScalerEntry =
  // [scale, finite steps since it changed]. Loading ignores a scaler entry
  // when the run is not fp16 (a resume with another precision).
  std::vector<std::pair<std::string, torch::Tensor>> optimizerState() const;
  void loadOptimizerState(std::vector<std::pair<std::string, torch::Tensor>> state);

 private:
  Detector model_;
  TrainerOptions options_;
  Sgd sgd_;
  LossScaler scaler_;  // fp16 only
};

}  // namespace laxray
