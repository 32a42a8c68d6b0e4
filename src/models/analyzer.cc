// FaceAnalyzer: opens a pack's models and runs detect -> align -> embed on one image.
#include "facefill/analyzer.h"

#include <algorithm>

#include "facefill/align.h"

namespace facefill {

Result<std::unique_ptr<FaceAnalyzer>> FaceAnalyzer::Open(const ModelPack& pack, const AnalyzerOptions& options) {
  auto detector = pack.kind == PackKind::kUltraLight
                      ? OpenUltraLightDetector(pack.detector, pack.landmarks, options.detector)
                      : OpenScrfdDetector(pack.detector, options.detector);
  if (!detector.ok()) return detector.status();
  EmbedderOptions embedder_options = options.embedder;
  if (!embedder_options.input_mean && pack.recognizer_mean) {
    embedder_options.input_mean = pack.recognizer_mean;
    embedder_options.input_std = pack.recognizer_std;
  }
  auto embedder = OpenArcFaceEmbedder(pack.recognizer, embedder_options);
  if (!embedder.ok()) return embedder.status();
  return std::unique_ptr<FaceAnalyzer>(
      new FaceAnalyzer(pack, std::move(detector).value(), std::move(embedder).value()));
}

Result<std::vector<AnalyzedFace>> FaceAnalyzer::Analyze(const cv::Mat& bgr, bool with_embeddings) {
  FACEFILL_ASSIGN_OR_RETURN(std::vector<FaceDetection> detections, Detect(bgr));
  std::vector<AnalyzedFace> faces;
  std::vector<cv::Mat> crops;
  for (const auto& detection : detections) {
    faces.push_back(AnalyzedFace{detection, {}});
    if (with_embeddings) crops.push_back(Align(bgr, detection.landmarks));
  }
  if (with_embeddings && !crops.empty()) {
    FACEFILL_ASSIGN_OR_RETURN(std::vector<Embedding> embeddings, Embed(crops));
    for (size_t i = 0; i < faces.size(); ++i) faces[i].embedding = std::move(embeddings[i]);
  }
  return faces;
}

Result<std::vector<FaceDetection>> FaceAnalyzer::Detect(const cv::Mat& bgr) { return detector_->Detect(bgr); }

Result<std::vector<std::vector<FaceDetection>>> FaceAnalyzer::DetectBatch(std::span<const cv::Mat> images) {
  return detector_->DetectBatch(images);
}

cv::Mat FaceAnalyzer::Align(const cv::Mat& bgr, const FiveLandmarks& landmarks) const {
  return AlignFace(bgr, landmarks, embedder_->input_size());
}

Result<std::vector<Embedding>> FaceAnalyzer::Embed(std::span<const cv::Mat> crops, int faces_per_call) {
  if (faces_per_call <= 0 || static_cast<size_t>(faces_per_call) >= crops.size()) return embedder_->Embed(crops);
  std::vector<Embedding> embeddings;
  embeddings.reserve(crops.size());
  for (size_t start = 0; start < crops.size(); start += static_cast<size_t>(faces_per_call)) {
    const size_t n = std::min(crops.size() - start, static_cast<size_t>(faces_per_call));
    FACEFILL_ASSIGN_OR_RETURN(std::vector<Embedding> part, embedder_->Embed(crops.subspan(start, n)));
    for (auto& e : part) embeddings.push_back(std::move(e));
  }
  return embeddings;
}

std::unique_ptr<FaceAnalyzer> FaceAnalyzer::Clone() const {
  return std::unique_ptr<FaceAnalyzer>(new FaceAnalyzer(pack_, detector_->Clone(), embedder_->Clone()));
}

}  // namespace facefill
