#include "resnet.h"

#include <stdexcept>
#include <string>

namespace laxray {
namespace {

torch::nn::Conv2d conv3x3(int64_t in, int64_t out, int64_t stride) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}

torch::nn::Conv2d conv1x1(int64_t in, int64_t out, int64_t stride = 1) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).stride(stride).bias(false));
}

// Downsampling shortcut named as torchvision's: downsample.0 (conv), downsample.1 (norm).
torch::nn::Sequential makeDownsample(int64_t in, int64_t out, int64_t stride, NormKind norm) {
  torch::nn::Sequential downsample;
  downsample->push_back(conv1x1(in, out, stride));
  downsample->push_back(makeNorm(norm, out));
  return downsample;
}

}  // namespace

torch::nn::AnyModule makeNorm(NormKind kind, int64_t channels) {
  if (kind == NormKind::GroupNorm) return torch::nn::AnyModule(torch::nn::GroupNorm(32, channels));
  return torch::nn::AnyModule(torch::nn::BatchNorm2d(channels));
}

BasicBlockImpl::BasicBlockImpl(int64_t inPlanes, int64_t planes, int64_t stride, NormKind norm) {
  conv1 = register_module("conv1", conv3x3(inPlanes, planes, stride));
  bn1 = makeNorm(norm, planes);
  register_module("bn1", bn1.ptr());
  conv2 = register_module("conv2", conv3x3(planes, planes, 1));
  bn2 = makeNorm(norm, planes);
  register_module("bn2", bn2.ptr());
  if (stride != 1 || inPlanes != planes * expansion) {
    downsample = register_module("downsample", makeDownsample(inPlanes, planes * expansion, stride, norm));
  }
}

torch::Tensor BasicBlockImpl::forward(const torch::Tensor& x) {
  torch::Tensor out = torch::relu(bn1.forward(conv1(x)));
  out = bn2.forward(conv2(out));
  torch::Tensor identity = downsample ? downsample->forward(x) : x;
  return torch::relu(out + identity);
}

BottleneckImpl::BottleneckImpl(int64_t inPlanes, int64_t planes, int64_t stride, NormKind norm) {
  conv1 = register_module("conv1", conv1x1(inPlanes, planes));
  bn1 = makeNorm(norm, planes);
  register_module("bn1", bn1.ptr());
  conv2 = register_module("conv2", conv3x3(planes, planes, stride));  // stride on the 3x3 (v1.5)
  bn2 = makeNorm(norm, planes);
  register_module("bn2", bn2.ptr());
  conv3 = register_module("conv3", conv1x1(planes, planes * expansion));
  bn3 = makeNorm(norm, planes * expansion);
  register_module("bn3", bn3.ptr());
  if (stride != 1 || inPlanes != planes * expansion) {
    downsample = register_module("downsample", makeDownsample(inPlanes, planes * expansion, stride, norm));
  }
}

torch::Tensor BottleneckImpl::forward(const torch::Tensor& x) {
  torch::Tensor out = torch::relu(bn1.forward(conv1(x)));
  out = torch::relu(bn2.forward(conv2(out)));
  out = bn3.forward(conv3(out));
  torch::Tensor identity = downsample ? downsample->forward(x) : x;
  return torch::relu(out + identity);
}

ResNetImpl::ResNetImpl(const BackboneConfig& config) : config_(config), bottleneck_(config.depth >= 50) {
  std::vector<int> blocks;
  switch (config.depth) {
    case 18: blocks = {2, 2, 2, 2}; break;
    case 34: blocks = {3, 4, 6, 3}; break;
    case 50: blocks = {3, 4, 6, 3}; break;
    default:
      throw std::invalid_argument("backbone.depth must be 18, 34 or 50, got " + std::to_string(config.depth));
  }
  conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 64, 7).stride(2).padding(3).bias(false)));
  bn1 = makeNorm(config.norm, 64);
  register_module("bn1", bn1.ptr());
  layer1 = register_module("layer1", makeLayer(64, blocks[0], 1));
  layer2 = register_module("layer2", makeLayer(128, blocks[1], 2));
  layer3 = register_module("layer3", makeLayer(256, blocks[2], 2));
  layer4 = register_module("layer4", makeLayer(512, blocks[3], 2));

  // torchvision's initialisation: He (fan_out) for convs, ones/zeros for norms.
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<torch::nn::Conv2d>()) {
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = module->as<torch::nn::BatchNorm2d>()) {
      torch::nn::init::ones_(bn->weight);
      torch::nn::init::zeros_(bn->bias);
    } else if (auto* gn = module->as<torch::nn::GroupNorm>()) {
      torch::nn::init::ones_(gn->weight);
      torch::nn::init::zeros_(gn->bias);
    }
  }
  // Frozen BN (mmdetection's norm_eval): train() keeps every BN in eval mode, so
  // its statistics stay fixed; γ/β train unless their stage is frozen.
  freezeStages(config.frozenStages);
}

torch::nn::Sequential ResNetImpl::makeLayer(int64_t planes, int blocks, int64_t stride) {
  torch::nn::Sequential layer;
  const int64_t expansion = bottleneck_ ? BottleneckImpl::expansion : BasicBlockImpl::expansion;
  for (int i = 0; i < blocks; ++i) {
    const int64_t s = i == 0 ? stride : 1;
    if (bottleneck_) {
      layer->push_back(Bottleneck(inPlanes_, planes, s, config_.norm));
    } else {
      layer->push_back(BasicBlock(inPlanes_, planes, s, config_.norm));
    }
    inPlanes_ = planes * expansion;
  }
  return layer;
}

std::vector<torch::Tensor> ResNetImpl::forward(const torch::Tensor& x) {
  torch::Tensor out = torch::relu(bn1.forward(conv1(x)));
  out = torch::max_pool2d(out, 3, 2, 1);
  out = layer1->forward(out);
  torch::Tensor c3 = layer2->forward(out);
  torch::Tensor c4 = layer3->forward(c3);
  torch::Tensor c5 = layer4->forward(c4);
  return {c3, c4, c5};
}

std::vector<int64_t> ResNetImpl::outChannels() const {
  if (bottleneck_) return {512, 1024, 2048};
  return {128, 256, 512};
}

void ResNetImpl::train(bool on) {
  torch::nn::Module::train(on);
  // Frozen stages keep their norm statistics too (as mmdetection does).
  if (frozenStages_ >= 1) bn1.ptr()->eval();
  torch::nn::Sequential layers[] = {layer1, layer2, layer3, layer4};
  for (int i = 0; i < frozenStages_; ++i) layers[i]->eval();
  if (config_.norm != NormKind::FrozenBatchNorm) return;
  for (auto& module : modules(false)) {
    if (auto* bn = module->as<torch::nn::BatchNorm2d>()) bn->eval();
  }
}

void ResNetImpl::freezeStages(int stages) {
  if (stages < 0 || stages > 4) {
    throw std::invalid_argument("backbone.frozenStages must be 0..4, got " + std::to_string(stages));
  }
  auto freeze = [](torch::nn::Module& m) {
    for (auto& p : m.parameters()) p.set_requires_grad(false);
  };
  if (stages >= 1) {
    freeze(*conv1);
    freeze(*bn1.ptr());
  }
  torch::nn::Sequential layers[] = {layer1, layer2, layer3, layer4};
  for (int i = 0; i < stages; ++i) freeze(*layers[i]);
  frozenStages_ = std::max(frozenStages_, stages);
  train(is_training());
}

}  // namespace laxray
