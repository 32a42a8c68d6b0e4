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
  std::string id;  // UUID; also the vector id (qdrant_point_id)
  int64_t asset_id = 0;
  int bbox_x = 0, bbox_y = 0, bbox_w = 0, bbox_h = 0;
  FiveLandmarks landmarks;
  float detection_confidence = 0;
  float quality_score = 0;
  Embedding embedding;
};

enum class ScanState { kDone, kNoFaces, kError };
std::string_view ScanStateName(ScanState state);  // "done", "no_faces", "error"

// The result of processing one asset: its faces, or why it failed.
struct ScanOutcome {
  AssetRecord asset;
  ScanState state = ScanState::kDone;
  std::vector<FaceRecord> faces;
  Status error;  // when state == kError; its code name is the recorded reason
};

// A face as stored, for matching on --rescan and for search results.
struct StoredFace {
  std::string id;
  int64_t asset_id = 0;
  int bbox_x = 0, bbox_y = 0, bbox_w = 0, bbox_h = 0;
  float detection_confidence = 0;
  std::string asset_path;
};

}  // namespace facefill
