// PeopleCatalog: the SQLite side of clustering (faces and vectors in, cluster ids and state out), and OpenFaceStore.
#include "people_catalog.h"

#include <uuid/uuid.h>

#include "../catalog/catalog_backends.h"
#include "../catalog/sqlite_face_rows.h"
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
                  "naming, merging and splitting people (and the web pages) work on the embedded SQLite catalog only; "
                  "on PostgreSQL, `facefill cluster` and `facefill people` (the listing) work, and people are named "
                  "in the image-search service");
  }
  auto catalog = OpenCatalog(catalog_url);  // creates and migrates (the persons table among them)
  if (!catalog.ok()) return catalog.status();
  auto db = sqlite::Database::Open(SqlitePathFromUrl(catalog_url));
  if (!db.ok()) return db.status();
  return std::unique_ptr<PeopleCatalog>(new PeopleCatalog(std::move(db).value(), catalog_url));
}

Result<std::unique_ptr<FaceStore>> OpenFaceStore(const std::string& catalog_url, const std::string& vectors_url) {
  if (IsPostgresUrl(catalog_url)) return OpenPostgresFaceStore(catalog_url, vectors_url);
  if (!vectors_url.empty() && vectors_url != "local") {
    return Status(
        StatusCode::kInvalidArgument,
        "on the embedded SQLite catalog, people and clustering read the vectors kept in it (--vectors local)");
  }
  auto catalog = PeopleCatalog::Open(catalog_url);
  if (!catalog.ok()) return catalog.status();
  return std::unique_ptr<FaceStore>(std::move(catalog).value());
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
      "SELECT f.rowid, v.rowid, f.id, f.asset_id, COALESCE(f.cluster_id, ''), COALESCE(f.person_id, ''), "
      "v.face_id" +
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
      auto v = stmt->Floats(7);
      if (vectors->values.empty()) vectors->dimension = static_cast<int>(v.size());
      if (static_cast<int>(v.size()) != vectors->dimension) {
        mixed = true;
        return;
      }
      vectors->values.insert(vectors->values.end(), v.begin(), v.end());
    }
    faces.push_back(
        {stmt->Int(0), stmt->Int(1), stmt->Text(2), stmt->Int(3), stmt->Text(4), stmt->Text(5), stmt->Text(6)});
  }));
  if (mixed) return Status(StatusCode::kInvalidArgument, "face vectors of more than one dimension in " + db_->path());
  return faces;
}

Result<std::vector<ClusterFace>> PeopleCatalog::FacesAtVectorRows(const std::vector<int64_t>& vector_rows) {
  std::lock_guard lock(db_->mutex());
  auto stmt = db_->Prepare(
      "SELECT f.rowid, v.rowid, f.id, f.asset_id, COALESCE(f.cluster_id, ''), COALESCE(f.person_id, ''), v.face_id "
      "FROM facefill_face_vectors v JOIN face_instances f ON f.qdrant_point_id = v.face_id WHERE v.rowid = ?");
  if (!stmt.ok()) return stmt.status();
  std::vector<ClusterFace> faces;
  for (int64_t row : vector_rows) {
    stmt->Bind(1, row);
    FACEFILL_RETURN_IF_ERROR(stmt->ForEachRow([&] {
      faces.push_back(
          {stmt->Int(0), stmt->Int(1), stmt->Text(2), stmt->Int(3), stmt->Text(4), stmt->Text(5), stmt->Text(6)});
    }));
  }
  return faces;
}

Result<std::unique_ptr<FaceIndex>> PeopleCatalog::OpenIndex(const std::vector<ClusterFace>&, VectorMatrix*,
                                                            const FaceIndexOptions& options) {
  return FaceIndex::Open(catalog_url_, options);
}

Result<std::vector<ClusterFace>> PeopleCatalog::NearestFaces(std::span<const float> vector, int k, float min_similarity,
                                                             const FaceIndexOptions& options) {
  if (!index_) {
    auto index = FaceIndex::Open(catalog_url_, options);
    if (!index.ok()) return index.status();
    index_ = std::move(index).value();
  }
  auto found = index_->Nearest(vector, k);
  if (!found.ok()) return found.status();
  std::vector<int64_t> rows;
  for (const auto& n : *found) {
    if (n.similarity >= min_similarity) rows.push_back(n.vector_row);
  }
  return FacesAtVectorRows(rows);
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

Result<std::vector<PeopleCluster>> PeopleCatalog::ListClusters(int64_t limit) {
  std::lock_guard lock(db_->mutex());
  // The representative face of each cluster, read as the catalog reads any face, then its two counts.
  auto clusters = db_->Prepare(
      "WITH ranked AS (SELECT f.cluster_id, f.id, ROW_NUMBER() OVER (PARTITION BY f.cluster_id ORDER BY "
      "COALESCE(f.quality_score, 0) DESC, f.detection_confidence DESC, f.bbox_w * f.bbox_h DESC, f.id) AS rank, "
      "COUNT(*) OVER (PARTITION BY f.cluster_id) AS faces FROM face_instances f WHERE f.cluster_id IS NOT NULL) "
      "SELECT " +
      std::string(kSqliteFaceColumns) +
      ", r.faces, (SELECT COUNT(DISTINCT asset_id) FROM face_instances WHERE cluster_id = r.cluster_id) FROM ranked "
      "r JOIN face_instances f ON f.id = r.id JOIN image_assets a ON a.id = f.asset_id WHERE r.rank = 1 ORDER BY "
      "r.faces DESC, r.cluster_id" +
      std::string(limit > 0 ? " LIMIT " + std::to_string(limit) : ""));
  if (!clusters.ok()) return clusters.status();
  std::vector<PeopleCluster> out;
  FACEFILL_RETURN_IF_ERROR(clusters->ForEachRow([&] {
    const StoredFace face = StoredFaceAt(*clusters);
    PeopleCluster c;
    c.cluster_id = face.cluster_id.value_or("");
    c.faces = clusters->Int(kSqliteFaceColumnCount);
    c.photos = clusters->Int(kSqliteFaceColumnCount + 1);
    c.face_id = face.id;
    c.path = face.asset_path;
    c.bbox_x = face.bbox_x;
    c.bbox_y = face.bbox_y;
    c.bbox_w = face.bbox_w;
    c.bbox_h = face.bbox_h;
    out.push_back(std::move(c));
  }));
  return out;
}

Result<std::vector<ClusterPerson>> PeopleCatalog::PersonsInClusters() {
  std::lock_guard lock(db_->mutex());
  auto persons = db_->Prepare(
      "SELECT f.cluster_id, f.person_id, COALESCE(p.name, ''), COUNT(*) FROM face_instances f LEFT JOIN persons p "
      "ON p.id = f.person_id WHERE f.cluster_id IS NOT NULL AND f.person_id IS NOT NULL GROUP BY 1, 2, 3");
  if (!persons.ok()) return persons.status();
  std::vector<ClusterPerson> out;
  FACEFILL_RETURN_IF_ERROR(persons->ForEachRow([&] {
    out.push_back({persons->Text(0), persons->Text(1), persons->Text(2), persons->Int(3)});
  }));
  return out;
}

}  // namespace facefill::people
