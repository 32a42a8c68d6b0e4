// What the catalog and vector store hold: assets, faces (the image-search service's rows) and scan outcomes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "facefill/face.h"
#include "facefill/status.h"

namespace facefill {

// One image file as `scan` saw it (image_assets row).
struct AssetRecord {
  int64_t id = 0;
  std::string path;  // absolute, normalised, as the service stores it
  int64_t file_size = 0;
  int64_t file_modified_at = 0;  // Unix seconds
  std::string mime_type;         // from content; empty when not an image we know
  std::optional<int> width;      // upright size from the header; unset when the header cannot be read
  std::optional<int> height;
};

// One face (face_instances row) with its vector. Coordinates are in original-image pixels.
struct FaceRecord {
  std::string id;        // UUID of the row
  std::string point_id;  // its vector's id (qdrant_point_id): the row id for a new face; a kept face keeps its own
  // Set when the face matched a stored face (same asset, IoU > 0.5): its row and vector are updated in place and the
  // payload fields the image-search service owns (person, cluster, prototype, assigned) are left alone.
  bool stored = false;
  std::optional<std::string> person_id;   // of the stored face it matched
  std::optional<std::string> cluster_id;  // of the stored face it matched
  std::string taken_at;                   // ISO 8601 time for the vector payload (the file's modification time)
  int64_t asset_id = 0;
  int bbox_x = 0, bbox_y = 0, bbox_w = 0, bbox_h = 0;
  FiveLandmarks landmarks;
  float detection_confidence = 0;
  float quality_score = 0;
  Embedding embedding;
};

enum class ScanState { kDone, kNoFaces, kError };
std::string_view ScanStateName(ScanState state);  // "done", "no_faces", "error"

// A face as stored, for matching on --rescan, for search results and for the model guard.
struct StoredFace {
  std::string id;
  std::string point_id;  // qdrant_point_id (the row id when the column is empty)
  int64_t asset_id = 0;
  int bbox_x = 0, bbox_y = 0, bbox_w = 0, bbox_h = 0;
  float detection_confidence = 0;
  std::string asset_path;
  std::optional<std::string> person_id;   // a person's label: the face is never deleted by a re-scan
  std::optional<std::string> cluster_id;  // a clustering result (the service's is kept like a label)
  std::optional<FiveLandmarks> landmarks;
};

// A page of ids in ascending byte order (UUIDs as lower-case text), and where the next page starts.
struct IdPage {
  std::vector<std::string> ids;
  std::string next;  // the cursor that asks for the next page; empty when this page is the last
};

// The result of processing one asset: its faces, or why it failed.
struct ScanOutcome {
  AssetRecord asset;
  ScanState state = ScanState::kDone;
  std::vector<FaceRecord> faces;
  Status error;  // when state == kError; its code name is the recorded reason
  // Stored faces of this asset that were not found again. Unlabelled ones are deleted with their vectors; labelled
  // ones (a person; on the service's database also a cluster) are kept and counted as "kept, not re-detected".
  std::vector<StoredFace> removed;
  int64_t kept_not_redetected = 0;

  // Face rows the asset has once this outcome is committed.
  int64_t face_count() const { return static_cast<int64_t>(faces.size()) + kept_not_redetected; }
};

}  // namespace facefill
