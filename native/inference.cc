#include "inference.h"

#include <stdexcept>
#include <string>

#include "anchors.h"

namespace laxray {

std::vector<Detections> detectBatch(DetectorImpl& model, const torch::Tensor& images, const std::vector<ImageMeta>& metas) {
  checkImages(images);
  if (static_cast<int64_t>(metas.size()) != images.size(0)) {
    throw std::invalid_argument("detect: got " + std::to_string(metas.size()) + " image metas for " +
                                std::to_string(images.size(0)) + " images");
  }
  for (size_t i = 0; i < metas.size(); ++i) {
    const ImageMeta& m = metas[i];
    if (!(m.scaleX > 0 && m.scaleY > 0 && m.originalWidth > 0 && m.originalHeight > 0 && m.inputWidth > 0 &&
          m.inputHeight > 0 && m.inputWidth <= images.size(3) && m.inputHeight <= images.size(2))) {
      throw std::invalid_argument("detect: image " + std::to_string(i) +
                                  " has an invalid meta (sizes and scales must be positive, the resized size within the batch)");
    }
  }
  model.train(false);
  torch::NoGradGuard noGrad;  // LA turns autograd back on for its own gradients only
  PrecisionScope precision(model.execution(), images.device());
  std::vector<torch::Tensor> pyramid = model.pyramid(images);
  HeadOutputs outputs = model.head->forward(pyramid, nullptr);
  std::vector<std::pair<int64_t, int64_t>> sizes;
  for (const torch::Tensor& p : pyramid) sizes.emplace_back(p.size(2), p.size(3));
  const ModelConfig& config = model.config();
  torch::Tensor anchors = generateAnchors(sizes, config.head.strides, config.head.anchorScale, images.device());
  PostprocessConfig post;
  post.nmsPre = config.test.nmsPre;
  post.scoreThreshold = config.test.scoreThreshold;
  post.nmsIou = config.test.nmsIou;
  post.maxPerImage = config.test.maxPerImage;
  return postprocess(outputs, anchors, metas, post);
}

}  // namespace laxray
