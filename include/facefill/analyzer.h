// FaceAnalyzer: detector + alignment + embedder of one model pack, the unit a worker thread uses per image.
#pragma once

#include <memory>
#include <opencv2/core.hpp>
#include <span>
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
  // Exactly Detect, then Align of each detection, then Embed of all the crops.
  Result<std::vector<AnalyzedFace>> Analyze(const cv::Mat& bgr, bool with_embeddings = true);

  // The steps of Analyze, the one implementation of detect -> align -> embed, for callers that filter faces
  // between the steps or gather crops of many images into one embedder call (the backfill).
  // Faces of an 8-bit BGR image, in its pixels.
  Result<std::vector<FaceDetection>> Detect(const cv::Mat& bgr);
  // Faces of several images, one list per image, each equal to Detect of that image: one detector call per
  // batch_limit() images when the detector takes a batch (`facefill models batchify`), else one call per image.
  Result<std::vector<std::vector<FaceDetection>>> DetectBatch(std::span<const cv::Mat> images);
  // The embedder's input crop (input_size() square) of the face with these landmarks, in `bgr`'s pixels.
  cv::Mat Align(const cv::Mat& bgr, const FiveLandmarks& landmarks) const;
  // One L2-normalised vector per crop, in order, in embedder calls of at most `faces_per_call` crops (0: one call).
  Result<std::vector<Embedding>> Embed(std::span<const cv::Mat> crops, int faces_per_call = 0);

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
