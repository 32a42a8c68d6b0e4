// Per-model defaults measured on the shared photos (the README's "Calibration" section gives the figures).
#include "facefill/calibration.h"

namespace facefill {

float DefaultMinConfidence(const ModelPack& pack) {
  // Ultra-Light (default pack): every labelled face scores >= 0.99 in the one-person photos and keeps its place up
  // to 0.9 in the dlib set, while the dogs photo's false face scores 0.54: 0.6 drops it with a margin. SCRFD: the
  // dogs score 0.53 (det_2.5g) and 0.64 (det_500m) but real rotated faces 0.56-0.62, so the service's 0.5 stays.
  return pack.kind == PackKind::kUltraLight ? 0.6f : 0.5f;
}

std::optional<float> SamePersonThreshold(const ModelPack& pack) {
  // fr_feature (MobileFaceNet), 47 same-person and 449 different-person pairs of the shared photos: strangers
  // reach 0.28 (Ultra-Light alignment) and 0.29 (SCRFD); at 0.35 none is accepted, and 83% / 89% of the
  // same-person pairs are.
  if (pack.recognizer.stem() == "fr_feature") return 0.35f;
  return std::nullopt;
}

}  // namespace facefill
