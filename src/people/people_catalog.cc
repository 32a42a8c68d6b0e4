// PeopleCatalog: the SQLite side of clustering (faces and vectors in, cluster ids and state out).
#include "people_catalog.h"

#include <uuid/uuid.h>

#include "../catalog/catalog_backends.h"
#include "../sqlite/sqlite_url.h"
#include "facefill/catalog.h"

namespace facefill::people {

std::string NewId() {
  uuid_t id;
  uuid_generate_random(id);
  char text[37];
  uuid_unparse_lower(id, text);
  return text;
}

Result<std::unique_ptr<PeopleCatalog>> PeopleCatalog::Open(const std::string& catalog_url) {
  if (IsPostgresUrl(catalog_url)) {
    return Status(StatusCode::kInvalidArgument,
                  "people and clustering work on the embedded SQLite catalog with local vectors only");
  }
  auto catalog = OpenCatalog(catalog_url);  // creates and migrates (the persons table among them)
  if (!catalog.ok()) return catalog.status();
  auto db = sqlite::Database::Open(SqlitePathFromUrl(catalog_url));
  if (!db.ok()) return db.status();
  return std::unique_ptr<PeopleCatalog>(new PeopleCatalog(std::move(db).value()));
}

namespace {

// SQL condition on face_instances f for the gate, with two parameters: the size, then the score.
constexpr char kPassesGate[] =
    "(f.person_id IS NOT NULL OR (MIN(f.bbox_w, f.bbox_h) >= ? AND f.detection_confidence >= ?))";

}  // namespace

Result<std::vector<ClusterFace>> PeopleCatalog::LoadFaces(VectorMatrix* vectors, const FaceGate& gate,
                                                          int64_t after_face_row, bool only_unassigned) {
  std::lock_guard lock(db_->mutex());
  std::string sql =
      "SELECT f.rowid, v.rowid, f.id, f.asset_id, COALESCE(f.cluster_id, ''), COALESCE(f.person_id, '')" +
      std::string(vectors ? ", v.embedding" : "") +
      " FROM face_instances f JOIN facefill_face_vectors v ON v.face_id = f.qdrant_point_id WHERE f.rowid > ? AND " +
      kPassesGate + (only_unassigned ? " AND f.cluster_id IS NULL AND f.person_id IS NULL" : "") + " ORDER BY v.rowid";
  auto stmt = db_->Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, after_face_row).Bind(2, int64_t{gate.min_face_size}).Bind(3, double{gate.min_detection_score});
  std::vector<ClusterFace> faces;
  if (vectors) vectors->values.clear();
  bool mixed = false;
  FACEFILL_RETURN_IF_ERROR(stmt->ForEachRow([&] {
    if (vectors) {
      auto v = stmt->Floats(6);
      if (vectors->values.empty()) vectors->dimension = static_cast<int>(v.size());
      if (static_cast<int>(v.size()) != vectors->dimension) {
        mixed = true;
        return;
      }
      vectors->values.insert(vectors->values.end(), v.begin(), v.end());
    }
    faces.push_back({stmt->Int(0), stmt->Int(1), stmt->Text(2), stmt->Int(3), stmt->Text(4), stmt->Text(5)});
  }));
  if (mixed) return Status(StatusCode::kInvalidArgument, "face vectors of more than one dimension in " + db_->path());
  return faces;
}

Result<std::vector<ClusterFace>> PeopleCatalog::FacesAtVectorRows(const std::vector<int64_t>& vector_rows) {
  std::lock_guard lock(db_->mutex());
  auto stmt = db_->Prepare(
      "SELECT f.rowid, v.rowid, f.id, f.asset_id, COALESCE(f.cluster_id, ''), COALESCE(f.person_id, '') FROM "
      "facefill_face_vectors v JOIN face_instances f ON f.qdrant_point_id = v.face_id WHERE v.rowid = ?");
  if (!stmt.ok()) return stmt.status();
  std::vector<ClusterFace> faces;
  for (int64_t row : vector_rows) {
    stmt->Bind(1, row);
    FACEFILL_RETURN_IF_ERROR(stmt->ForEachRow([&] {
      faces.push_back({stmt->Int(0), stmt->Int(1), stmt->Text(2), stmt->Int(3), stmt->Text(4), stmt->Text(5)});
    }));
  }
  return faces;
}

Status PeopleCatalog::WriteClusterIds(const std::vector<ClusterChange>& changes) {
  if (changes.empty()) return Status::Ok();
  std::lock_guard lock(db_->mutex());
  return db_->Transaction([&]() -> Status {
    auto stmt = db_->Prepare("UPDATE face_instances SET cluster_id = ?, updated_at = CURRENT_TIMESTAMP WHERE id = ?");
    if (!stmt.ok()) return stmt.status();
    for (const auto& c : changes) {
      c.cluster_id.empty() ? stmt->BindNull(1) : stmt->Bind(1, c.cluster_id);
      FACEFILL_RETURN_IF_ERROR(stmt->Bind(2, c.face_id).Run());
    }
    return Status::Ok();
  });
}

Result<int64_t> PeopleCatalog::ClearClustersBelowGate(const FaceGate& gate) {
  std::lock_guard lock(db_->mutex());
  const std::string below = std::string(" f.cluster_id IS NOT NULL AND NOT ") + kPassesGate;
  auto count = db_->Prepare("SELECT COUNT(*) FROM face_instances f WHERE" + below);
  if (!count.ok()) return count.status();
  count->Bind(1, int64_t{gate.min_face_size}).Bind(2, double{gate.min_detection_score});
  auto row = count->Step();
  if (!row.ok()) return row.status();
  const int64_t cleared = count->Int(0);
  if (cleared == 0) return cleared;
  auto stmt =
      db_->Prepare("UPDATE face_instances AS f SET cluster_id = NULL, updated_at = CURRENT_TIMESTAMP WHERE" + below);
  if (!stmt.ok()) return stmt.status();
  FACEFILL_RETURN_IF_ERROR(stmt->Bind(1, int64_t{gate.min_face_size}).Bind(2, double{gate.min_detection_score}).Run());
  return cleared;
}

Result<int64_t> PeopleCatalog::CountFaces(const FaceGate& gate) {
  std::lock_guard lock(db_->mutex());
  auto stmt = db_->Prepare(std::string("SELECT COUNT(*) FROM face_instances f WHERE ") + kPassesGate);
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, int64_t{gate.min_face_size}).Bind(2, double{gate.min_detection_score});
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  return stmt->Int(0);
}

Result<int64_t> PeopleCatalog::State(const std::string& key) {
  std::lock_guard lock(db_->mutex());
  auto stmt = db_->Prepare("SELECT CAST(value AS INTEGER) FROM facefill_people_state WHERE key = ?");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, key);
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  return *row ? stmt->Int(0) : int64_t{0};
}

Status PeopleCatalog::SetState(const std::string& key, int64_t value) {
  std::lock_guard lock(db_->mutex());
  auto stmt = db_->Prepare(
      "INSERT INTO facefill_people_state(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = "
      "excluded.value");
  if (!stmt.ok()) return stmt.status();
  return stmt->Bind(1, key).Bind(2, std::to_string(value)).Run();
}

}  // namespace facefill::people
