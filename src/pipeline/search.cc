// Search by example image and the catalog/vector-store consistency check.
#include "facefill/search.h"

#include <map>

#include "../core/id_pages.h"

namespace facefill {
namespace {

// The ids of a paged listing one at a time, ascending, holding one page.
class IdStream {
 public:
  IdStream(IdLister list, int page_size, std::string what)
      : list_(std::move(list)), page_size_(page_size), what_(std::move(what)) {}

  // Moves to the next id (id()); false at the end. A repeated id is read once; one out of order is an error, as
  // the merge would then report wrong differences.
  Result<bool> Next() {
    while (true) {
      if (position_ == page_.ids.size()) {
        if (last_page_) return false;
        FACEFILL_ASSIGN_OR_RETURN(page_, list_(page_.next, page_size_));
        position_ = 0;
        last_page_ = page_.next.empty() || page_.ids.empty();
        continue;
      }
      std::string& id = page_.ids[position_++];
      if (started_ && id <= current_) {
        if (id == current_) continue;
        return Status(StatusCode::kInternal,
                      what_ + " listed " + id + " after " + current_ + ": its ids are not in ascending order");
      }
      current_ = std::move(id);
      started_ = true;
      return true;
    }
  }
  const std::string& id() const { return current_; }

 private:
  IdLister list_;
  int page_size_;
  std::string what_;
  IdPage page_;
  size_t position_ = 0;
  bool last_page_ = false;
  bool started_ = false;
  std::string current_;
};

}  // namespace

Status ConsistencyOptions::Validate() const {
  if (page_size < 1) return Status(StatusCode::kInvalidArgument, "the check's page size must be at least 1");
  return Status::Ok();
}

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
  return CheckConsistency(catalog, vectors, ConsistencyOptions{.fix = fix});
}

Result<ConsistencyReport> CheckConsistency(Catalog& catalog, VectorStore& vectors, const ConsistencyOptions& options) {
  FACEFILL_RETURN_IF_ERROR(options.Validate());
  IdStream faces([&](const std::string& cursor, int limit) { return catalog.ListPointIds(cursor, limit); },
                 options.page_size, "the catalog");
  IdStream points([&](const std::string& cursor, int limit) { return vectors.ListIds(cursor, limit); },
                  options.page_size, vectors.Describe());
  // A merge of the two ascending listings: an id on one side only is a difference.
  ConsistencyReport report;
  FACEFILL_ASSIGN_OR_RETURN(bool face, faces.Next());
  FACEFILL_ASSIGN_OR_RETURN(bool point, points.Next());
  while (face || point) {
    if (face && (!point || faces.id() < points.id())) {
      report.faces_without_vectors.push_back(faces.id());
      FACEFILL_ASSIGN_OR_RETURN(face, faces.Next());
    } else if (point && (!face || points.id() < faces.id())) {
      report.vectors_without_faces.push_back(points.id());
      FACEFILL_ASSIGN_OR_RETURN(point, points.Next());
    } else {
      FACEFILL_ASSIGN_OR_RETURN(face, faces.Next());
      FACEFILL_ASSIGN_OR_RETURN(point, points.Next());
    }
  }
  auto missing = catalog.AssetsWithMissingFaces();
  if (!missing.ok()) return missing.status();
  report.assets_missing_faces = std::move(missing).value();
  if (options.fix) {
    // On the image-search service's database its collection is its own: points without a face row are reported,
    // never deleted by facefill.
    if (!catalog.IsServiceDatabase()) FACEFILL_RETURN_IF_ERROR(vectors.Delete(report.vectors_without_faces));
    FACEFILL_RETURN_IF_ERROR(catalog.MarkForRescan(report.assets_missing_faces, report.faces_without_vectors));
  }
  return report;
}

}  // namespace facefill
