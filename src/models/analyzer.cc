// FaceAnalyzer: opens a pack's models and runs detect -> align -> embed on one image.
#include "facefill/analyzer.h"

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
  auto detections = detector_->Detect(bgr);
  if (!detections.ok()) return detections.status();
  std::vector<AnalyzedFace> faces;
  std::vector<cv::Mat> crops;
  for (const auto& detection : *detections) {
    faces.push_back(AnalyzedFace{detection, {}});
    if (with_embeddings) crops.push_back(AlignFace(bgr, detection.landmarks, embedder_->input_size()));
  }
  if (with_embeddings && !crops.empty()) {
    auto embeddings = embedder_->Embed(crops);
    if (!embeddings.ok()) return embeddings.status();
    for (size_t i = 0; i < faces.size(); ++i) faces[i].embedding = std::move((*embeddings)[i]);
  }
  return faces;
}

std::unique_ptr<FaceAnalyzer> FaceAnalyzer::Clone() const {
  return std::unique_ptr<FaceAnalyzer>(new FaceAnalyzer(pack_, detector_->Clone(), embedder_->Clone()));
}

}  // namespace facefill
