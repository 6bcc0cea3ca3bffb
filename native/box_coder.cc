#include "box_coder.h"

#include <cmath>

namespace laxray {
namespace {

torch::Tensor row4(const std::array<double, 4>& v, const torch::Tensor& like) {
  return torch::tensor({v[0], v[1], v[2], v[3]}, like.options().dtype(like.scalar_type()));
}

}  // namespace

torch::Tensor deltaEncode(const torch::Tensor& anchors, const torch::Tensor& boxes, const DeltaCoderConfig& config) {
  torch::Tensor pw = anchors.select(1, 2) - anchors.select(1, 0);
  torch::Tensor ph = anchors.select(1, 3) - anchors.select(1, 1);
  torch::Tensor px = (anchors.select(1, 0) + anchors.select(1, 2)) * 0.5;
  torch::Tensor py = (anchors.select(1, 1) + anchors.select(1, 3)) * 0.5;
  torch::Tensor gw = boxes.select(1, 2) - boxes.select(1, 0);
  torch::Tensor gh = boxes.select(1, 3) - boxes.select(1, 1);
  torch::Tensor gx = (boxes.select(1, 0) + boxes.select(1, 2)) * 0.5;
  torch::Tensor gy = (boxes.select(1, 1) + boxes.select(1, 3)) * 0.5;
  torch::Tensor deltas = torch::stack({(gx - px) / pw, (gy - py) / ph, torch::log(gw / pw), torch::log(gh / ph)}, 1);
  return (deltas - row4(config.means, deltas)) / row4(config.stds, deltas);
}

torch::Tensor deltaDecode(const torch::Tensor& anchors, const torch::Tensor& deltas, const DeltaCoderConfig& config) {
  torch::Tensor d = deltas * row4(config.stds, deltas) + row4(config.means, deltas);  // [K, 4]
  const double maxRatio = std::abs(std::log(config.whRatioClip));
  torch::Tensor dw = d.select(1, 2).clamp(-maxRatio, maxRatio);
  torch::Tensor dh = d.select(1, 3).clamp(-maxRatio, maxRatio);
  torch::Tensor pw = anchors.select(1, 2) - anchors.select(1, 0);
  torch::Tensor ph = anchors.select(1, 3) - anchors.select(1, 1);
  torch::Tensor px = (anchors.select(1, 0) + anchors.select(1, 2)) * 0.5;
  torch::Tensor py = (anchors.select(1, 1) + anchors.select(1, 3)) * 0.5;
  torch::Tensor gw = pw * torch::exp(dw);
  torch::Tensor gh = ph * torch::exp(dh);
  torch::Tensor gx = px + pw * d.select(1, 0);
  torch::Tensor gy = py + ph * d.select(1, 1);
  return torch::stack({gx - gw * 0.5, gy - gh * 0.5, gx + gw * 0.5, gy + gh * 0.5}, 1);
}

torch::Tensor distanceEncode(const torch::Tensor& points, const torch::Tensor& boxes, const torch::Tensor& strides,
                             int64_t regMax) {
  torch::Tensor px = points.select(1, 0);
  torch::Tensor py = points.select(1, 1);
  torch::Tensor ltrb = torch::stack({px - boxes.select(1, 0), py - boxes.select(1, 1), boxes.select(1, 2) - px,
                                     boxes.select(1, 3) - py},
                                    1);  // [K, 4] px
  return (ltrb / strides.unsqueeze(1)).clamp(0.0, static_cast<double>(regMax) - 0.01);
}

torch::Tensor distanceDecode(const torch::Tensor& points, const torch::Tensor& distances) {
  torch::Tensor px = points.select(1, 0);
  torch::Tensor py = points.select(1, 1);
  return torch::stack({px - distances.select(1, 0), py - distances.select(1, 1), px + distances.select(1, 2),
                       py + distances.select(1, 3)},
                      1);
}

torch::Tensor distributionIntegral(const torch::Tensor& logits) {
  const int64_t bins = logits.size(-1);
  torch::Tensor project = torch::arange(bins, logits.options());  // [regMax + 1]
  return (torch::softmax(logits, -1) * project).sum(-1);
}

torch::Tensor centernessTarget(const torch::Tensor& points, const torch::Tensor& boxes) {
  torch::Tensor px = points.select(1, 0);
  torch::Tensor py = points.select(1, 1);
  torch::Tensor l = px - boxes.select(1, 0);
  torch::Tensor t = py - boxes.select(1, 1);
  torch::Tensor r = boxes.select(1, 2) - px;
  torch::Tensor b = boxes.select(1, 3) - py;
  torch::Tensor lr = torch::min(l, r) / torch::max(l, r).clamp_min(1e-12);
  torch::Tensor tb = torch::min(t, b) / torch::max(t, b).clamp_min(1e-12);
  return torch::sqrt((lr * tb).clamp_min(0));
}

}  // namespace laxray
