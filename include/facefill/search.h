// Face search and catalog/vector consistency: the read-side operations over a catalog and its vector store.
#pragma once

#include <string>
#include <vector>

#include "facefill/analyzer.h"
#include "facefill/catalog.h"
#include "facefill/vector_store.h"

namespace facefill {

struct SearchOptions {
  int top_k = 10;
  float min_similarity = 0.0f;
  float min_confidence = 0.5f;  // query faces scoring lower are ignored, as in the backfill
};

struct SearchHit {
  StoredFace face;  // with asset_path
  float similarity = 0;
};

struct QueryFaceResult {
  FaceDetection query;  // in the query image's pixels
  std::vector<SearchHit> hits;
};

// One result per face found in `bgr`, each with its most similar stored faces, best first.
Result<std::vector<QueryFaceResult>> SearchByImage(FaceAnalyzer& analyzer, Catalog& catalog, VectorStore& vectors,
                                                   const cv::Mat& bgr, const SearchOptions& options = {});

// The stored faces most similar to a stored face (by its vector id), best first; the face itself is left out.
// kNotFound when the store has no vector for it.
Result<std::vector<SearchHit>> SearchByStoredFace(Catalog& catalog, VectorStore& vectors, const std::string& point_id,
                                                  const SearchOptions& options = {});

struct ConsistencyReport {
  std::vector<std::string> faces_without_vectors;
  std::vector<std::string> vectors_without_faces;
  std::vector<int64_t> assets_missing_faces;  // marked done, but their face rows are fewer or more
  bool clean() const {
    return faces_without_vectors.empty() && vectors_without_faces.empty() && assets_missing_faces.empty();
  }
};

// Compares the catalog with the vector store. With fix: deletes orphan vectors and marks the assets of faces
// without vectors (and of missing faces) for rescanning, so the next backfill rewrites them.
Result<ConsistencyReport> CheckConsistency(Catalog& catalog, VectorStore& vectors, bool fix);

}  // namespace facefill
