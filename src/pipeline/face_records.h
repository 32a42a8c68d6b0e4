// From detections to catalog rows: filters, integer boxes, quality, ids, and keeping ids across rescans.
#pragma once

#include <string>
#include <vector>

#include "facefill/analyzer.h"
#include "facefill/backfill.h"
#include "facefill/records.h"

namespace facefill::pipeline {

// Keeps the detections that pass the service's filters, mapped from decoded pixels (scale = decoded / original)
// to original pixels, as FaceRecords without embeddings; `kept` receives the index of each kept detection.
std::vector<FaceRecord> ToFaceRecords(const AssetRecord& asset, const std::vector<FaceDetection>& detections,
                                      double scale, const BackfillOptions& options, const std::string& model_id,
                                      std::vector<size_t>* kept);

// Gives each new face the id of the stored face it overlaps best at IoU > 0.5 (so person/cluster links survive a
// rescan); returns the stored ids no new face took.
std::vector<std::string> KeepStoredIds(std::vector<FaceRecord>* faces, const std::vector<StoredFace>& stored);

}  // namespace facefill::pipeline
