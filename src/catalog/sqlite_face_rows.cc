// StoredFaceAt and ReadStoredFaces: face rows of the SQLite catalog as StoredFace.
#include "sqlite_face_rows.h"

#include "facefill/landmarks_json.h"

namespace facefill {

StoredFace StoredFaceAt(const sqlite::Statement& stmt) {
  StoredFace f;
  f.id = stmt.Text(0);
  f.point_id = stmt.Text(1);
  f.asset_id = stmt.Int(2);
  f.bbox_x = static_cast<int>(stmt.Int(3));
  f.bbox_y = static_cast<int>(stmt.Int(4));
  f.bbox_w = static_cast<int>(stmt.Int(5));
  f.bbox_h = static_cast<int>(stmt.Int(6));
  f.detection_confidence = static_cast<float>(stmt.Double(7));
  f.asset_path = stmt.Text(8);
  if (!stmt.IsNull(9)) f.person_id = stmt.Text(9);
  if (!stmt.IsNull(10)) f.cluster_id = stmt.Text(10);
  if (!stmt.IsNull(11)) f.landmarks = ParseLandmarksJson(stmt.Text(11));
  return f;
}

Result<std::vector<StoredFace>> ReadStoredFaces(sqlite::Statement* stmt) {
  std::vector<StoredFace> faces;
  FACEFILL_RETURN_IF_ERROR(stmt->ForEachRow([&] { faces.push_back(StoredFaceAt(*stmt)); }));
  return faces;
}

}  // namespace facefill
