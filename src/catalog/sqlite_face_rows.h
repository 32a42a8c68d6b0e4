// Reading face rows (face_instances joined with image_assets) out of the SQLite catalog: the one column list and
// the one reader, for the catalog and for the people listing.
#pragma once

#include "../sqlite/sqlite_db.h"
#include "facefill/records.h"

namespace facefill {

// The columns StoredFaceAt reads, in its order (f = face_instances, a = image_assets).
inline constexpr const char* kSqliteFaceColumns =
    "f.id, COALESCE(f.qdrant_point_id, f.id), f.asset_id, f.bbox_x, f.bbox_y, f.bbox_w, f.bbox_h, "
    "f.detection_confidence, a.path, f.person_id, f.cluster_id, f.landmarks";
// How many columns kSqliteFaceColumns names: a query's own columns follow them.
inline constexpr int kSqliteFaceColumnCount = 12;

// The face in the current row of `stmt`, whose first columns are kSqliteFaceColumns.
StoredFace StoredFaceAt(const sqlite::Statement& stmt);

// Every remaining row of `stmt` as a face.
Result<std::vector<StoredFace>> ReadStoredFaces(sqlite::Statement* stmt);

}  // namespace facefill
