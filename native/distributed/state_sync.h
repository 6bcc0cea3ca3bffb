// Makes every rank start from rank 0's training state: the weights
// (parameters and buffers) and the SGD momentum buffers, at the start of a
// data-parallel run and after --resume (where only rank 0 read the checkpoint).
#pragma once

#include <torch/torch.h>

#include "distributed/process_group.h"
#include "sgd.h"

namespace laxray {

// Collective: every rank calls it. Rank 0 first sends the names, shapes and
// dtypes; a rank whose model differs makes every rank throw (naming the first
// difference) before any tensor is sent. Ranks other than 0 get momentum
// buffers for exactly the parameters rank 0 has them for.
void broadcastTrainingState(DataParallelGroup& group, torch::nn::Module& model, Sgd& sgd);

}  // namespace laxray
