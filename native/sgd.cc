#include "sgd.h"

#include <cmath>
#include <stdexcept>

#include "tensor_io.h"

namespace laxray {

Sgd::Sgd(const std::vector<std::pair<std::string, torch::Tensor>>& namedParameters, SgdOptions options)
    : options_(options) {
  for (const auto& [name, p] : namedParameters) {
    if (p.requires_grad()) parameters_.emplace_back(name, p);
  }
}

void Sgd::zeroGrad() {
  for (auto& [name, p] : parameters_) {
    if (p.mutable_grad().defined()) p.mutable_grad().zero_();
  }
}

void Sgd::step(double lr) {
  torch::NoGradGuard noGrad;
  for (auto& [name, p] : parameters_) {
    const torch::Tensor& grad = p.grad();
    if (!grad.defined()) continue;
    torch::Tensor d = options_.weightDecay != 0 ? grad.add(p, options_.weightDecay) : grad.clone();
    if (options_.momentum != 0) {
      auto it = momentum_.find(name);
      if (it == momentum_.end()) {
        it = momentum_.emplace(name, d.clone()).first;
      } else {
        it->second.mul_(options_.momentum).add_(d);
      }
      d = it->second;
    }
    p.add_(d, -lr);
  }
}

std::vector<torch::Tensor> Sgd::gradients() const {
  std::vector<torch::Tensor> grads;
  for (const auto& [name, p] : parameters_) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  return grads;
}

torch::Tensor Sgd::gradNormTensor() const {
  std::vector<torch::Tensor> grads = gradients();
  if (grads.empty()) {
    return torch::zeros({}, parameters_.empty() ? torch::TensorOptions() : parameters_.front().second.options().dtype(torch::kFloat));
  }
  return torch::stack(at::_foreach_norm(grads, 2)).to(torch::kFloat).norm();
}

void Sgd::scaleGradients(double factor) {
  std::vector<torch::Tensor> grads = gradients();
  torch::NoGradGuard noGrad;
  if (!grads.empty()) at::_foreach_mul_(grads, factor);
}

void Sgd::clipGradients(double maxNorm, double norm) {
  const double coefficient = maxNorm / (norm + 1e-6);
  if (coefficient < 1 && std::isfinite(norm)) scaleGradients(coefficient);
}

std::vector<std::pair<std::string, torch::Tensor>> Sgd::state() const {
  return {momentum_.begin(), momentum_.end()};
}

void Sgd::loadState(const std::vector<std::pair<std::string, torch::Tensor>>& state) {
  std::map<std::string, torch::Tensor> params(parameters_.begin(), parameters_.end());
  std::map<std::string, torch::Tensor> restored;
  for (const auto& [name, buffer] : state) {
    auto it = params.find(name);
    if (it == params.end()) throw std::invalid_argument("optimizer state has a buffer for unknown or frozen parameter '" + name + "'");
    if (it->second.sizes() != buffer.sizes()) {
      throw std::invalid_argument("optimizer state for '" + name + "' is " + shapeString(buffer.sizes()) +
                                  " but the parameter is " + shapeString(it->second.sizes()));
    }
    restored[name] = buffer.to(it->second.device(), it->second.scalar_type()).clone();
  }
  momentum_ = std::move(restored);
}

}  // namespace laxray
