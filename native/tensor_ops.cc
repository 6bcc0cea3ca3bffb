#include "tensor_ops.h"

#include <stdexcept>

#include "tensor_io.h"

namespace laxray {

torch::Tensor checkedMatmul(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.dim() != 2 || b.dim() != 2 || a.size(1) != b.size(0)) {
    throw std::invalid_argument("matmul: cannot multiply a " + shapeString(a.sizes()) + " by b " +
                                shapeString(b.sizes()) +
                                ": both must be 2-D and a's columns must equal b's rows");
  }
  if (a.device() != b.device()) {
    throw std::invalid_argument("matmul: a is on " + a.device().str() + " but b is on " + b.device().str());
  }
  if (a.scalar_type() != b.scalar_type()) {
    throw std::invalid_argument("matmul: a is " + std::string(c10::toString(a.scalar_type())) + " but b is " +
                                std::string(c10::toString(b.scalar_type())));
  }
  return torch::matmul(a, b);
}

}  // namespace laxray
