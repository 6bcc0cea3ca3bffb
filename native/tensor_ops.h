// Small tensor operations exposed for users and tests (the model's own
// operations live with the model parts).
#pragma once

#include <torch/torch.h>

namespace laxray {

// a: [N, K] x b: [K, M] -> [N, M]. Throws std::invalid_argument naming both
// shapes when they cannot be multiplied.
torch::Tensor checkedMatmul(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace laxray
