// FaceAnalyzer: detector + alignment + embedder of one model pack, the unit a worker thread uses per image.
#pragma once

#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "facefill/detector.h"
#include "facefill/embedder.h"
#include "facefill/face.h"
#include "facefill/model_pack.h"
#include "facefill/status.h"

namespace facefill {

struct AnalyzerOptions {
  DetectorOptions detector;
  EmbedderOptions embedder;  // input_mean/std left unset take the pack's documented values, if any
};

struct AnalyzedFace {
  FaceDetection detection;  // in the analysed image's pixels
  Embedding embedding;      // empty when embeddings were not requested
};

// Not thread-safe; Clone() per thread (clones share the loaded models).
class FaceAnalyzer {
 public:
  static Result<std::unique_ptr<FaceAnalyzer>> Open(const ModelPack& pack, const AnalyzerOptions& options = {});

  // Detects, aligns and (optionally) embeds every face of an 8-bit BGR image; one batched embedder call per image.
  Result<std::vector<AnalyzedFace>> Analyze(const cv::Mat& bgr, bool with_embeddings = true);

  std::unique_ptr<FaceAnalyzer> Clone() const;

  FaceDetector& detector() { return *detector_; }
  FaceEmbedder& embedder() { return *embedder_; }
  const ModelPack& pack() const { return pack_; }

 private:
  FaceAnalyzer(ModelPack pack, std::unique_ptr<FaceDetector> detector, std::unique_ptr<FaceEmbedder> embedder)
      : pack_(std::move(pack)), detector_(std::move(detector)), embedder_(std::move(embedder)) {}

  ModelPack pack_;
  std::unique_ptr<FaceDetector> detector_;
  std::unique_ptr<FaceEmbedder> embedder_;
};

}  // namespace facefill
