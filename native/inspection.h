// Named intermediate tensors collected during one forward pass, for
// detector.inspect() (backbone.c3, fpn.p3, head.p3.cls, la.p3.w1, ...).
#pragma once

#include <torch/torch.h>

#include <string>
#include <utility>
#include <vector>

namespace laxray {

struct Inspection {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  void add(const std::string& name, const torch::Tensor& t) { tensors.emplace_back(name, t.detach()); }
};

}  // namespace laxray
