#include "distributed/state_sync.h"

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "detector.h"
#include "tensor_io.h"

namespace laxray {
namespace {

using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

// One line per tensor: "name<TAB>dtype<TAB>d0,d1,...".
std::string layoutOf(const NamedTensors& tensors) {
  std::ostringstream out;
  for (const auto& [name, t] : tensors) {
    out << name << '\t' << static_cast<int>(t.scalar_type()) << '\t';
    for (int64_t i = 0; i < t.dim(); ++i) out << (i ? "," : "") << t.size(i);
    out << '\n';
  }
  return out.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

std::string firstDifference(const std::string& mine, const std::string& theirs) {
  const auto a = lines(mine), b = lines(theirs);
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    const std::string x = i < a.size() ? a[i] : "(nothing)", y = i < b.size() ? b[i] : "(nothing)";
    if (x != y) return "this rank has '" + x + "' where rank 0 has '" + y + "'";
  }
  return "no difference";
}

// Agrees on whether every rank's layout matches rank 0's; throws on every rank if not.
void checkSameLayout(DataParallelGroup& group, const std::string& layout, const std::string& what) {
  const std::string reference = group.broadcastBytes(layout, what + " (layout)");
  const bool same = reference == layout;
  const std::vector<double> mismatches = group.sumOverRanks({same ? 0.0 : 1.0}, what + " (layout check)");
  if (mismatches[0] > 0) {
    throw std::runtime_error(what + ": " + std::to_string(static_cast<int64_t>(mismatches[0])) +
                             " rank(s) hold a different model than rank 0" +
                             (same ? std::string() : " (" + firstDifference(layout, reference) + ")") +
                             "; every rank must be started with the same config");
  }
}

// Rank 0's names and shapes, parsed: zero tensors of those shapes for the other ranks.
NamedTensors allocateFromLayout(const std::string& layout, const torch::Device& device) {
  NamedTensors out;
  for (const std::string& line : lines(layout)) {
    const size_t a = line.find('\t'), b = line.find('\t', a + 1);
    std::vector<int64_t> shape;
    std::istringstream dims(line.substr(b + 1));
    for (std::string d; std::getline(dims, d, ',');) shape.push_back(std::stoll(d));
    const auto dtype = static_cast<torch::ScalarType>(std::stoi(line.substr(a + 1, b - a - 1)));
    out.emplace_back(line.substr(0, a), torch::zeros(shape, torch::TensorOptions().dtype(dtype).device(device)));
  }
  return out;
}

std::vector<torch::Tensor> tensorsOf(const NamedTensors& named) {
  std::vector<torch::Tensor> out;
  for (const auto& [name, t] : named) out.push_back(t);
  return out;
}

}  // namespace

void broadcastTrainingState(DataParallelGroup& group, torch::nn::Module& model, Sgd& sgd) {
  torch::NoGradGuard noGrad;
  NamedTensors weights = namedState(model);
  checkSameLayout(group, layoutOf(weights), "broadcasting rank 0's weights");
  group.broadcastFromRank0(tensorsOf(weights), "broadcasting rank 0's weights");

  // Momentum: rank 0's set (empty before its first step) decides what the others hold.
  const std::string layout = group.broadcastBytes(group.rank() == 0 ? layoutOf(sgd.state()) : std::string(),
                                                  "broadcasting rank 0's optimizer state (layout)");
  NamedTensors momentum = group.rank() == 0 ? sgd.state() : allocateFromLayout(layout, group.device());
  group.broadcastFromRank0(tensorsOf(momentum), "broadcasting rank 0's optimizer state");
  if (group.rank() != 0) sgd.loadState(momentum);
}

}  // namespace laxray
