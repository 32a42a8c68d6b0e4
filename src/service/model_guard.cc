// GuardVectorModel: the dimension check, the recorded recogniser, and the re-embedding of sampled stored faces.
#include "facefill/model_guard.h"

#include <fmt/format.h>

#include <algorithm>

#include "facefill/image.h"

namespace facefill {
namespace {

float Cosine(const Embedding& a, const Embedding& b) {
  if (a.size() != b.size() || a.empty()) return 0;
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += double{a[i]} * b[i];
    na += double{a[i]} * a[i];
    nb += double{b[i]} * b[i];
  }
  return na > 0 && nb > 0 ? static_cast<float>(dot / std::sqrt(na * nb)) : 0.0f;
}

// Embeds up to `wanted` of `faces` again from their files (full-resolution decode, stored landmarks) and returns
// the cosine of each against its stored vector.
Result<std::vector<float>> CompareSample(const std::vector<StoredFace>& faces,
                                         const std::map<std::string, Embedding>& stored, FaceAnalyzer& analyzer,
                                         int wanted) {
  std::vector<float> similarities;
  DecodeOptions decode;
  decode.reduce = 1;
  for (const auto& face : faces) {
    if (static_cast<int>(similarities.size()) >= wanted) break;
    auto vector = stored.find(face.point_id);
    if (vector == stored.end() || vector->second.empty() || !face.landmarks) continue;
    auto image = DecodeImageFile(face.asset_path, decode);
    if (!image.ok()) continue;  // a file that is gone or broken says nothing about the model
    FiveLandmarks points = *face.landmarks;
    for (auto& p : points) p = Point2f{static_cast<float>(p.x * image->scale), static_cast<float>(p.y * image->scale)};
    cv::Mat crop = analyzer.Align(image->bgr, points);
    auto embedded = analyzer.Embed(std::span<const cv::Mat>(&crop, 1));
    if (!embedded.ok()) return embedded.status();
    similarities.push_back(Cosine(embedded->front(), vector->second));
  }
  return similarities;
}

}  // namespace

std::string RecognizerName(const ModelPack& pack) { return pack.recognizer.stem().string(); }

Result<ModelGuardReport> GuardVectorModel(Catalog& catalog, VectorStore& vectors, FaceAnalyzer& analyzer,
                                          const ModelGuardOptions& options) {
  ModelGuardReport report;
  report.recognizer = RecognizerName(analyzer.pack());
  const int dimension = analyzer.embedder().dimension();
  FACEFILL_RETURN_IF_ERROR(vectors.Prepare(dimension));
  const std::string store = vectors.Describe();
  auto recorded = catalog.VectorModel(store);
  if (!recorded.ok()) return recorded.status();
  report.recorded = recorded->value_or("");
  if (report.recorded == report.recognizer) return report;
  auto count = vectors.Count();
  if (!count.ok()) return count.status();
  report.stored_vectors = *count;
  if (!report.recorded.empty()) {
    if (options.force) {
      report.forced = true;
      return report;
    }
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("{} holds vectors of the recogniser '{}', and this run's is '{}': vectors of two models "
                              "are not comparable. Use the pack with '{}' (--models DIR), another store, or "
                              "--force-model",
                              store, report.recorded, report.recognizer, report.recorded));
  }
  if (*count == 0) {
    FACEFILL_RETURN_IF_ERROR(catalog.RecordVectorModel(store, report.recognizer, dimension));
    return report;
  }
  if (options.force) {
    report.forced = true;
    return report;
  }
  // Vectors nobody recorded: embed some of their faces again and compare.
  auto sample = catalog.SampleFaces(std::max(1, options.sample_faces) * 4);
  if (!sample.ok()) return sample.status();
  std::vector<std::string> ids;
  for (const auto& f : *sample) ids.push_back(f.point_id);
  auto stored = vectors.Fetch(ids);
  if (!stored.ok()) return stored.status();
  auto similarities = CompareSample(*sample, *stored, analyzer, options.sample_faces);
  if (!similarities.ok()) return similarities.status();
  report.compared = static_cast<int>(similarities->size());
  if (report.compared == 0) {
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("{} holds {} vectors that facefill did not write, and none of their faces could be "
                              "embedded again (no stored landmarks, vectors or readable files) to check they come "
                              "from '{}'. Pass --force-model only if you know they do",
                              store, *count, report.recognizer));
  }
  std::nth_element(similarities->begin(), similarities->begin() + similarities->size() / 2, similarities->end());
  report.median_similarity = (*similarities)[similarities->size() / 2];
  if (report.median_similarity < options.min_median_similarity) {
    return Status(StatusCode::kInvalidArgument,
                  fmt::format("{} holds vectors of another model: {} of its faces embedded again with '{}' have a "
                              "median cosine of {:.2f} with their stored vectors (the same model gives about 1). "
                              "Use the model that wrote them (the image-search service uses buffalo_l: --models DIR "
                              "with det_10g.onnx and w600k_r50.onnx), another collection, or --force-model",
                              store, report.compared, report.recognizer, report.median_similarity));
  }
  FACEFILL_RETURN_IF_ERROR(catalog.RecordVectorModel(store, report.recognizer, dimension));
  return report;
}

}  // namespace facefill
