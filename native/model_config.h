// The model's configuration as the native side sees it. Mirrors the `model`
// section of lib/config (the schema there owns defaults and validation; the
// defaults here are the paper's, for C++ callers and tests).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "head_outputs.h"
#include "losses.h"  // LossConfig: focal alpha/gamma and the loss weights

namespace laxray {

enum class NormKind { FrozenBatchNorm, BatchNorm, GroupNorm };
enum class LabelAwareKind { None, Cls, Reg };

struct BackboneConfig {
  int depth = 50;                       // 18, 34 or 50
  // FrozenBatchNorm when pretrained weights are loaded: mmdetection's
  // norm_eval (statistics frozen, γ/β trained after the frozen stages).
  NormKind norm = NormKind::BatchNorm;
  int frozenStages = 0;                 // 1 = stem + layer1 frozen (with pretrained weights)
};

struct NeckConfig {
  int64_t outChannels = 256;
  int numOutputs = 5;  // P3..P7
  // P7 = conv(relu(P6)) as torchvision's RetinaNet/FCOS; false: conv(P6) as
  // mmdetection's add_extra_convs='on_output' (the authors' config).
  bool extraReluP7 = false;
};

struct LabelAwareCoefficients {
  double a = 1.0, b = 1.0, c = 1.0;  // x_new = a·x + b·w1·x − c·w2·x (eq. 5 with eq. 7's weights)
};

// How LA turns a feature gradient g into a weight w.
enum class LabelAwareWeight {
  Sigmoid,  // w = σ(g): the paper's eq. 5/6
  Scaled,   // w = σ(g / τ), τ = std of g over C×H×W per image and level: scale-free
};

struct HeadConfig {
  int64_t numClasses = 12;
  int stackedConvs = 4;
  int64_t featChannels = 256;
  RegressionKind regression = RegressionKind::Distribution;
  int64_t regMax = 16;
  LabelAwareKind labelAware = LabelAwareKind::Cls;
  LabelAwareCoefficients laCoefficients;
  LabelAwareWeight laWeight = LabelAwareWeight::Sigmoid;
  // The second prediction applies the reg tower twice (the authors' LA heads);
  // also without LA, for the control model with the deeper regression tower.
  bool laRegTwice = true;
  // model.test.labelAware. false: at test time (no labels given) the reweighting is skipped, x_new = x
  // (as with w1 = w2 = 0.5); the second prediction is unchanged.
  bool labelAwareAtTest = true;
  double anchorScale = 8.0;
  std::vector<int64_t> strides{8, 16, 32, 64, 128};
  double priorProb = 0.01;
};

struct AssignerConfig {
  int64_t topk = 9;
};

struct TestConfig {
  int64_t nmsPre = 1000;
  double scoreThreshold = 0.05;
  double nmsIou = 0.6;
  int64_t maxPerImage = 100;
};

struct ModelConfig {
  BackboneConfig backbone;
  NeckConfig neck;
  HeadConfig head;
  AssignerConfig assigner;
  LossConfig loss;
  TestConfig test;
};

}  // namespace laxray
