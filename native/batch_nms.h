// Class-wise greedy NMS over a whole batch of images at once, with a limit per
// image: the candidates of every image and class go in together and boxes of
// different (image, class) groups never suppress each other. Two exact
// implementations of the same greedy rule (torchvision's: a box is suppressed
// by a kept, higher-scoring box of its group with IoU strictly above the
// threshold; equal scores: the earlier candidate first):
//   - host: a scan in score order on the CPU, comparing each candidate with the
//     kept boxes of its group, stopping per image at the limit;
//   - device: tensor operations only (no per-box loop), for CUDA, where the
//     scan would copy every candidate to the host. Candidates are taken in
//     score-ordered blocks; within a block the kept set is the fixed point of
//     keep_i = no kept j before i in the block suppresses i (Cluster-NMS,
//     Zheng et al. 2020), which is exactly the greedy result. It synchronises
//     once per block to test convergence, not once per box or image.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace laxray {

enum class NmsMode {
  Auto,    // device on CUDA, host on the CPU
  Host,
  Device,  // also on the CPU: the equivalence tests run it there
};

// boxes: [P, 4] float, scores: [P], groups: [P] int64 (image·C + class),
// images: [P] int64 image of each candidate, numImages: N.
// -> kept candidate indices [D] int64, by image, then decreasing score (ties:
// lower index first); at most maxPerImage per image (<= 0: no limit).
torch::Tensor batchNms(const torch::Tensor& boxes, const torch::Tensor& scores, const torch::Tensor& groups,
                       const torch::Tensor& images, int64_t numImages, double iouThreshold, int64_t maxPerImage,
                       NmsMode mode = NmsMode::Auto);

}  // namespace laxray
