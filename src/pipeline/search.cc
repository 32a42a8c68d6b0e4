// Search by example image and the catalog/vector-store consistency check.
#include "facefill/search.h"

#include <algorithm>
#include <map>

namespace facefill {

Result<std::vector<QueryFaceResult>> SearchByImage(FaceAnalyzer& analyzer, Catalog& catalog, VectorStore& vectors,
                                                   const cv::Mat& bgr, const SearchOptions& options) {
  auto faces = analyzer.Analyze(bgr);
  if (!faces.ok()) return faces.status();
  std::vector<QueryFaceResult> results;
  for (const auto& face : *faces) {
    if (face.detection.score < options.min_confidence) continue;
    auto matches = vectors.Search(face.embedding, options.top_k, options.min_similarity);
    if (!matches.ok()) return matches.status();
    std::vector<std::string> ids;
    for (const auto& m : *matches) ids.push_back(m.point_id);
    auto stored = catalog.FacesByPointIds(ids);
    if (!stored.ok()) return stored.status();
    std::map<std::string, StoredFace> by_id;
    for (auto& s : *stored) by_id[s.point_id] = s;
    QueryFaceResult result{face.detection, {}};
    for (const auto& m : *matches) {
      auto it = by_id.find(m.point_id);
      if (it != by_id.end()) result.hits.push_back({it->second, m.similarity});  // orphan vectors are skipped
    }
    results.push_back(std::move(result));
  }
  return results;
}

Result<std::vector<SearchHit>> SearchByStoredFace(Catalog& catalog, VectorStore& vectors, const std::string& point_id,
                                                  const SearchOptions& options) {
  FACEFILL_ASSIGN_OR_RETURN(auto stored, vectors.Fetch({point_id}));
  auto query = stored.find(point_id);
  if (query == stored.end()) return Status::NotFound("no stored vector for face " + point_id);
  FACEFILL_ASSIGN_OR_RETURN(auto matches, vectors.Search(query->second, options.top_k + 1, options.min_similarity));
  std::vector<std::string> ids;
  for (const auto& m : matches) ids.push_back(m.point_id);
  FACEFILL_ASSIGN_OR_RETURN(auto faces, catalog.FacesByPointIds(ids));
  std::map<std::string, StoredFace> by_id;
  for (auto& f : faces) by_id[f.point_id] = std::move(f);
  std::vector<SearchHit> hits;
  for (const auto& m : matches) {
    auto it = by_id.find(m.point_id);
    if (m.point_id == point_id || it == by_id.end()) continue;
    if (static_cast<int>(hits.size()) < options.top_k) hits.push_back({it->second, m.similarity});
  }
  return hits;
}

Result<ConsistencyReport> CheckConsistency(Catalog& catalog, VectorStore& vectors, bool fix) {
  auto face_ids = catalog.AllPointIds();
  if (!face_ids.ok()) return face_ids.status();
  auto vector_ids = vectors.AllIds();
  if (!vector_ids.ok()) return vector_ids.status();
  std::sort(face_ids->begin(), face_ids->end());
  std::sort(vector_ids->begin(), vector_ids->end());
  ConsistencyReport report;
  std::set_difference(face_ids->begin(), face_ids->end(), vector_ids->begin(), vector_ids->end(),
                      std::back_inserter(report.faces_without_vectors));
  std::set_difference(vector_ids->begin(), vector_ids->end(), face_ids->begin(), face_ids->end(),
                      std::back_inserter(report.vectors_without_faces));
  auto missing = catalog.AssetsWithMissingFaces();
  if (!missing.ok()) return missing.status();
  report.assets_missing_faces = std::move(missing).value();
  if (fix) {
    // On the image-search service's database its collection is its own: points without a face row are reported,
    // never deleted by facefill.
    if (!catalog.IsServiceDatabase()) FACEFILL_RETURN_IF_ERROR(vectors.Delete(report.vectors_without_faces));
    FACEFILL_RETURN_IF_ERROR(catalog.MarkForRescan(report.assets_missing_faces, report.faces_without_vectors));
  }
  return report;
}

}  // namespace facefill
