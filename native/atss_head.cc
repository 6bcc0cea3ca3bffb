#include "atss_head.h"

#include <cmath>
#include <stdexcept>
#include <string>

#include "label_aware.h"

namespace laxray {
namespace {

constexpr int64_t kDistributionTopK = 4;  // GFLv2: top-4 bin probabilities (+ their mean) per side
constexpr int64_t kQualityHidden = 64;    // channels of the quality branch's hidden 1x1 conv

void normalInit(torch::nn::Conv2d& conv, double bias = 0.0) {
  torch::nn::init::normal_(conv->weight, 0.0, 0.01);
  if (conv->bias.defined()) torch::nn::init::constant_(conv->bias, bias);
}

// [N, K, H, W] -> [N, H·W, K]
torch::Tensor flattenLocations(const torch::Tensor& t) {
  return t.permute({0, 2, 3, 1}).reshape({t.size(0), -1, t.size(1)});
}

}  // namespace

ConvGnReluImpl::ConvGnReluImpl(int64_t in, int64_t out) {
  conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1).bias(false)));
  gn = register_module("gn", torch::nn::GroupNorm(32, out));
  normalInit(conv);
}

torch::Tensor ConvGnReluImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = conv(x);
  // GroupNorm in float32 under autocast, as CUDA's autocast does: LibTorch 1.13's
  // CPU autocast leaves group_norm out, and bf16 input with float32 weights fails.
  if (y.scalar_type() != torch::kFloat && y.is_cpu()) y = y.to(torch::kFloat);
  return torch::relu(gn(y));
}

ScaleImpl::ScaleImpl() { scale = register_parameter("scale", torch::ones({})); }

AtssHeadImpl::AtssHeadImpl(const HeadConfig& config, int64_t inChannels) : config_(config) {
  if (config.numClasses < 1) throw std::invalid_argument("head.numClasses must be >= 1");
  if (config.featChannels % 32 != 0) throw std::invalid_argument("head.featChannels must be a multiple of 32 (GroupNorm(32))");
  if (config.laRegTwice && config.featChannels != inChannels) {
    throw std::invalid_argument("head.laRegTwice applies the reg tower to its own output: head.featChannels (" +
                                std::to_string(config.featChannels) + ") must equal neck.outChannels (" +
                                std::to_string(inChannels) + ")");
  }
  if (config.labelAware == LabelAwareKind::Reg && config.regression != RegressionKind::Distribution) {
    throw std::invalid_argument("head.la 'reg' needs head.regression 'distribution' (LAreg works on bin probabilities)");
  }
  cls_convs = register_module("cls_convs", torch::nn::ModuleList());
  reg_convs = register_module("reg_convs", torch::nn::ModuleList());
  for (int i = 0; i < config.stackedConvs; ++i) {
    const int64_t in = i == 0 ? inChannels : config.featChannels;
    cls_convs->push_back(ConvGnRelu(in, config.featChannels));
    reg_convs->push_back(ConvGnRelu(in, config.featChannels));
  }
  const int64_t towerOut = config.stackedConvs > 0 ? config.featChannels : inChannels;
  atss_cls = register_module("atss_cls", torch::nn::Conv2d(torch::nn::Conv2dOptions(towerOut, config.numClasses, 3).padding(1)));
  normalInit(atss_cls, -std::log((1 - config.priorProb) / config.priorProb));
  const bool distribution = config.regression == RegressionKind::Distribution;
  const int64_t regOut = distribution ? 4 * (config.regMax + 1) : 4;
  atss_reg = register_module("atss_reg", torch::nn::Conv2d(torch::nn::Conv2dOptions(towerOut, regOut, 3).padding(1)));
  normalInit(atss_reg);
  if (distribution) {
    // Statistics per side: LAreg's max − mean (1), else top-4 and their mean (5).
    const int64_t statistics = config.labelAware == LabelAwareKind::Reg ? 1 : kDistributionTopK + 1;
    reg_conf = register_module(
        "reg_conf", torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(4 * statistics, kQualityHidden, 1)),
                                          torch::nn::ReLU(),
                                          torch::nn::Conv2d(torch::nn::Conv2dOptions(kQualityHidden, 1, 1))));
    for (auto& m : reg_conf->modules(false)) {
      if (auto* conv = m->as<torch::nn::Conv2d>()) {
        torch::nn::init::normal_(conv->weight, 0.0, 0.01);
        torch::nn::init::zeros_(conv->bias);
      }
    }
  } else {
    atss_centerness = register_module("atss_centerness", torch::nn::Conv2d(torch::nn::Conv2dOptions(towerOut, 1, 3).padding(1)));
    normalInit(atss_centerness);
  }
  scales = register_module("scales", torch::nn::ModuleList());
  for (size_t i = 0; i < config.strides.size(); ++i) scales->push_back(Scale());
}

torch::Tensor AtssHeadImpl::clsTower(torch::Tensor x) {
  for (auto& m : *cls_convs) x = m->as<ConvGnRelu>()->forward(x);
  return x;
}

torch::Tensor AtssHeadImpl::regTower(torch::Tensor x) {
  for (auto& m : *reg_convs) x = m->as<ConvGnRelu>()->forward(x);
  return x;
}

torch::Tensor AtssHeadImpl::regression(const torch::Tensor& regFeatures, size_t level) {
  return scales[level]->as<Scale>()->forward(atss_reg(regFeatures));
}

torch::Tensor AtssHeadImpl::quality(const torch::Tensor& regFeatures, const torch::Tensor& regressionOut) {
  if (config_.regression == RegressionKind::Delta) return atss_centerness(regFeatures);
  const int64_t n = regressionOut.size(0), h = regressionOut.size(2), w = regressionOut.size(3);
  torch::Tensor prob = torch::softmax(regressionOut.reshape({n, 4, config_.regMax + 1, h, w}), 2);
  if (config_.labelAware == LabelAwareKind::Reg) {
    // The authors' LAreg head: how peaked each side's distribution is, max − mean.
    return reg_conf->forward(std::get<0>(prob.max(2)) - prob.mean(2));  // [N, 4, H, W] -> [N, 1, H, W]
  }
  // GFLv2 distribution statistics: top-4 probabilities of each side's bins and their mean.
  torch::Tensor top = std::get<0>(prob.topk(kDistributionTopK, 2));
  torch::Tensor stat = torch::cat({top, top.mean(2, /*keepdim=*/true)}, 2);  // [N, 4, 5, H, W]
  return reg_conf->forward(stat.reshape({n, -1, h, w}));
}

QualityTarget AtssHeadImpl::qualityTarget() const {
  // The authors' LAreg head learns centerness; their LAcls head (and GFL) the IoU of the decoded box.
  const bool iou = config_.regression == RegressionKind::Distribution && config_.labelAware != LabelAwareKind::Reg;
  return iou ? QualityTarget::Iou : QualityTarget::Centerness;
}

std::vector<torch::Tensor> AtssHeadImpl::labelAware(const std::vector<torch::Tensor>& features,
                                                    const LabelAwareTargets* targets, Inspection* inspection) {
  if (config_.labelAware == LabelAwareKind::None) return features;
  if (!targets && !config_.labelAwareAtTest) return features;  // LA switched off at test time: x_new = x
  auto name = [](size_t level) { return "la.p" + std::to_string(level + 3); };
  std::vector<torch::Tensor> xNew;
  if (config_.labelAware == LabelAwareKind::Cls) {
    auto predict = [this](const torch::Tensor& xTilde, size_t) { return torch::sigmoid(atss_cls(clsTower(xTilde))); };
    std::vector<torch::Tensor> labels = targets ? targets->classLabels : std::vector<torch::Tensor>{};
    std::vector<LabelAwareClsResult> la = labelAwareCls(features, predict, labels, config_.laCoefficients, config_.laWeight);
    for (size_t level = 0; level < la.size(); ++level) {
      if (inspection) {
        inspection->add(name(level) + ".w1", la[level].w1);
        inspection->add(name(level) + ".w2", la[level].w2);
        inspection->add(name(level) + ".x_new", la[level].xNew);
      }
      xNew.push_back(la[level].xNew);
    }
    return xNew;
  }
  auto predict = [this](const torch::Tensor& xTilde, size_t level) {
    torch::Tensor logits = regression(regTower(xTilde), level);
    return torch::sigmoid(logits.reshape({logits.size(0), 4, config_.regMax + 1, logits.size(2), logits.size(3)}));
  };
  std::vector<torch::Tensor> bins = targets ? targets->binLabels : std::vector<torch::Tensor>{};
  std::vector<LabelAwareRegResult> la = labelAwareReg(features, predict, bins, config_.laWeight);
  for (size_t level = 0; level < la.size(); ++level) {
    if (inspection) {
      inspection->add(name(level) + ".w", la[level].w);
      inspection->add(name(level) + ".x_new", la[level].xNew);
    }
    xNew.push_back(la[level].xNew);
  }
  return xNew;
}

HeadOutputs AtssHeadImpl::forward(const std::vector<torch::Tensor>& features, const LabelAwareTargets* targets,
                                  Inspection* inspection) {
  if (features.size() != config_.strides.size()) {
    throw std::invalid_argument("head got " + std::to_string(features.size()) + " feature levels for " +
                                std::to_string(config_.strides.size()) + " strides");
  }
  const bool distribution = config_.regression == RegressionKind::Distribution;
  std::vector<torch::Tensor> clsAll, regAll, qualityAll;
  HeadOutputs out;
  out.regression = config_.regression;
  out.regMax = config_.regMax;
  out.qualityTarget = qualityTarget();
  out.strides = config_.strides;
  // LA's first predictions and gradients for every level before any second prediction (label_aware.h).
  const std::vector<torch::Tensor> xNew = labelAware(features, targets, inspection);
  for (size_t level = 0; level < features.size(); ++level) {
    const std::string name = "p" + std::to_string(level + 3);
    const torch::Tensor& x = xNew[level];
    torch::Tensor cls = atss_cls(clsTower(x));  // [N, C, H, W]
    torch::Tensor regFeatures = regTower(x);
    if (config_.laRegTwice) regFeatures = regTower(regFeatures);
    torch::Tensor reg = regression(regFeatures, level);  // [N, 4 or 4(R+1), H, W]
    torch::Tensor qual = quality(regFeatures, reg);      // [N, 1, H, W]
    if (inspection) {
      inspection->add("head." + name + ".cls", cls);
      inspection->add("head." + name + ".reg", reg);
      inspection->add("head." + name + ".quality", qual);
    }
    out.numAnchorsPerLevel.push_back(cls.size(2) * cls.size(3));
    clsAll.push_back(flattenLocations(cls));
    torch::Tensor regFlat = flattenLocations(reg);  // [N, HW, 4] or [N, HW, 4(R+1)]
    if (distribution) regFlat = regFlat.reshape({regFlat.size(0), regFlat.size(1), 4, config_.regMax + 1});
    regAll.push_back(regFlat);
    qualityAll.push_back(flattenLocations(qual).squeeze(-1));
  }
  out.clsLogits = torch::cat(clsAll, 1);
  out.boxRegression = torch::cat(regAll, 1);
  out.qualityLogits = torch::cat(qualityAll, 1);
  return out;
}

}  // namespace laxray
