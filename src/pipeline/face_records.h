// From detections to catalog rows: filters, integer boxes, quality, ids, and keeping ids across rescans.
#pragma once

#include <string>
#include <vector>

#include "facefill/analyzer.h"
#include "facefill/backfill.h"
#include "facefill/records.h"

namespace facefill {

// "YYYY-MM-DDTHH:MM:SS+00:00" for Unix seconds (empty for 0), as the service writes taken_at.
std::string IsoTime(int64_t unix_seconds);

namespace pipeline {

// Keeps the detections that pass the service's filters, mapped from decoded pixels (scale = decoded / original)
// to original pixels, as FaceRecords without embeddings; `kept` receives the index of each kept detection.
std::vector<FaceRecord> ToFaceRecords(const AssetRecord& asset, const std::vector<FaceDetection>& detections,
                                      double scale, const BackfillOptions& options, const std::string& model_id,
                                      std::vector<size_t>* kept);

// Gives each new face of `outcome` the row id and vector id of the stored face it overlaps best at IoU > 0.5 (so
// person and cluster links survive a re-scan), and records which stored faces no new face took: unlabelled ones in
// outcome->removed (to delete), labelled ones only counted (kept, not re-detected). The one place that decides what
// a re-scan keeps.
// A face with a person is labelled; with `clusters_are_labels` (the service's database, whose clusters the service
// made) so is a face with a cluster.
void MatchStoredFaces(ScanOutcome* outcome, const std::vector<StoredFace>& stored, bool clusters_are_labels);

}  // namespace pipeline
}  // namespace facefill
