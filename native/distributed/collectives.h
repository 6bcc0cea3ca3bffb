// What a data-parallel training step needs from the other processes of its
// job: sums of a few numbers and the average of the gradients. The trainer and
// the losses see only this interface; native/distributed/process_group.*
// implements it over c10d (Gloo / NCCL). A single process passes none.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

namespace laxray {

class Collectives {
 public:
  virtual ~Collectives() = default;

  virtual int rank() const = 0;
  virtual int worldSize() const = 0;

  // Element-wise sum of `values` over every rank; each rank gets the result.
  // `what` names the step in errors ("the loss normalisers").
  virtual std::vector<double> sumOverRanks(const std::vector<double>& values, const std::string& what) = 0;

  // Replaces each tensor (in place) by its mean over ranks. Tensors are
  // flattened into buckets, one collective per bucket, not one per tensor.
  virtual void averageOverRanks(const std::vector<torch::Tensor>& tensors, const std::string& what) = 0;
};

}  // namespace laxray
