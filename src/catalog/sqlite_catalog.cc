// The embedded catalog: the image-search service's image_assets and face_instances tables plus facefill's own
// scan status, in one SQLite file, with versioned migrations.

#include "../core/landmarks_json.h"
#include "../sqlite/sqlite_db.h"
#include "../sqlite/sqlite_id_page.h"
#include "../sqlite/sqlite_url.h"
#include "facefill/catalog.h"
#include "sqlite_face_rows.h"

namespace facefill {
namespace {

using sqlite::Database;

// Each entry migrates the schema from version i to i + 1. Only append.
const std::vector<std::string> kMigrations = {
    R"sql(
CREATE TABLE IF NOT EXISTS image_assets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  path TEXT NOT NULL UNIQUE,
  created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  width INTEGER,
  height INTEGER,
  file_size INTEGER,
  mime_type TEXT,
  file_modified_at TEXT,
  taken_at TEXT
);
CREATE TABLE IF NOT EXISTS face_instances (
  id TEXT PRIMARY KEY,
  asset_id INTEGER NOT NULL REFERENCES image_assets(id) ON DELETE CASCADE,
  bbox_x INTEGER NOT NULL,
  bbox_y INTEGER NOT NULL,
  bbox_w INTEGER NOT NULL,
  bbox_h INTEGER NOT NULL,
  landmarks TEXT,
  detection_confidence REAL NOT NULL,
  quality_score REAL,
  qdrant_point_id TEXT,
  cluster_id TEXT,
  person_id TEXT,
  created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  UNIQUE (asset_id, bbox_x, bbox_y, bbox_w, bbox_h)
);
CREATE INDEX IF NOT EXISTS face_instances_asset_id ON face_instances(asset_id);
CREATE TABLE IF NOT EXISTS facefill_scan_status (
  asset_id INTEGER PRIMARY KEY REFERENCES image_assets(id) ON DELETE CASCADE,
  status TEXT NOT NULL CHECK (status IN ('done', 'no_faces', 'error')),
  face_count INTEGER NOT NULL DEFAULT 0,
  model_id TEXT,
  scanned_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  error_code TEXT,
  error_message TEXT,
  lease_owner TEXT,
  lease_expires_at TEXT
);
CREATE TABLE IF NOT EXISTS facefill_face_vectors (
  face_id TEXT PRIMARY KEY,
  asset_id INTEGER NOT NULL,
  embedding BLOB NOT NULL
);
)sql",
    R"sql(
CREATE TABLE IF NOT EXISTS facefill_library_roots (
  path TEXT PRIMARY KEY,
  added_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
)sql",
    R"sql(
CREATE TABLE IF NOT EXISTS facefill_vector_models (
  store TEXT PRIMARY KEY,
  model_id TEXT NOT NULL,
  dimension INTEGER NOT NULL,
  recorded_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS face_instances_qdrant_point_id ON face_instances(qdrant_point_id);
)sql",
    // People: the service's persons table, indexes on the face columns clustering writes and reads, and the
    // clustering state (src/people).
    R"sql(
CREATE TABLE IF NOT EXISTS persons (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'merged', 'hidden')),
  merged_into_id TEXT REFERENCES persons(id),
  created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  birth_date TEXT
);
CREATE INDEX IF NOT EXISTS face_instances_cluster_id ON face_instances(cluster_id);
CREATE INDEX IF NOT EXISTS face_instances_person_id ON face_instances(person_id);
CREATE TABLE IF NOT EXISTS facefill_people_state (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
)sql",
    // `check` reads vector ids a page at a time (ListPointIds): each page is a range of this index.
    R"sql(
CREATE INDEX IF NOT EXISTS face_instances_point_id ON face_instances(COALESCE(qdrant_point_id, id));
)sql",
};

std::string Placeholders(size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += i ? ",?" : "?";
  return s;
}

std::string PendingWhere(const PendingQuery& q) {
  if (q.rescan) return "a.id > ?";
  return std::string("a.id > ? AND (s.asset_id IS NULL") + (q.retry_errors ? " OR s.status = 'error')" : ")");
}

class SqliteCatalog final : public Catalog {
 public:
  explicit SqliteCatalog(std::unique_ptr<Database> db) : db_(std::move(db)) {}

  Status Migrate() {
    std::lock_guard lock(db_->mutex());
    FACEFILL_RETURN_IF_ERROR(
        db_->Exec("CREATE TABLE IF NOT EXISTS facefill_schema_migrations (version INTEGER PRIMARY KEY, "
                  "applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"));
    auto current = db_->Prepare("SELECT COALESCE(MAX(version), 0) FROM facefill_schema_migrations");
    if (!current.ok()) return current.status();
    auto row = current->Step();
    if (!row.ok()) return row.status();
    const size_t version = static_cast<size_t>(current->Int(0));
    if (version > kMigrations.size()) {
      return Status(StatusCode::kDatabaseError, db_->path() + ": schema version " + std::to_string(version) +
                                                    " is newer than this facefill knows; upgrade facefill");
    }
    for (size_t v = version; v < kMigrations.size(); ++v) {
      FACEFILL_RETURN_IF_ERROR(db_->Transaction([&] {
        FACEFILL_RETURN_IF_ERROR(db_->Exec(kMigrations[v]));
        return db_->Exec("INSERT INTO facefill_schema_migrations(version) VALUES (" + std::to_string(v + 1) + ")");
      }));
    }
    return Status::Ok();
  }

  Status UpsertAssets(const std::vector<AssetRecord>& assets, ScanCounts* counts) override {
    std::lock_guard lock(db_->mutex());
    return db_->Transaction([&]() -> Status {
      auto find = db_->Prepare(
          "SELECT id, file_size, file_modified_at = datetime(?, 'unixepoch') FROM image_assets WHERE path = ?");
      auto insert = db_->Prepare(
          "INSERT INTO image_assets(path, width, height, file_size, mime_type, file_modified_at) "
          "VALUES (?, ?, ?, ?, ?, datetime(?, 'unixepoch'))");
      auto update = db_->Prepare(
          "UPDATE image_assets SET width = ?, height = ?, file_size = ?, mime_type = ?, "
          "file_modified_at = datetime(?, 'unixepoch') WHERE id = ?");
      auto unscan = db_->Prepare("DELETE FROM facefill_scan_status WHERE asset_id = ?");
      for (auto* s : {&find, &insert, &update, &unscan}) {
        if (!s->ok()) return s->status();
      }
      for (const auto& a : assets) {
        find->Bind(1, a.file_modified_at).Bind(2, a.path);
        auto row = find->Step();
        if (!row.ok()) return row.status();
        if (!*row) {
          find->Reset();
          insert->Bind(1, a.path).Bind(2, a.width).Bind(3, a.height).Bind(4, a.file_size);
          a.mime_type.empty() ? insert->BindNull(5) : insert->Bind(5, a.mime_type);
          insert->Bind(6, a.file_modified_at);
          FACEFILL_RETURN_IF_ERROR(insert->Run());
          ++counts->added;
          continue;
        }
        const int64_t id = find->Int(0);
        const bool same = find->Int(1) == a.file_size && find->Int(2) == 1;
        find->Reset();
        if (same) {
          ++counts->unchanged;
          continue;
        }
        update->Bind(1, a.width).Bind(2, a.height).Bind(3, a.file_size);
        a.mime_type.empty() ? update->BindNull(4) : update->Bind(4, a.mime_type);
        update->Bind(5, a.file_modified_at).Bind(6, id);
        FACEFILL_RETURN_IF_ERROR(update->Run());
        unscan->Bind(1, id);
        FACEFILL_RETURN_IF_ERROR(unscan->Run());
        ++counts->refreshed;
      }
      return Status::Ok();
    });
  }

  Result<std::vector<AssetRecord>> ListPending(const PendingQuery& query) override {
    std::lock_guard lock(db_->mutex());
    auto stmt = db_->Prepare(
        "SELECT a.id, a.path, COALESCE(a.file_size, 0), COALESCE(CAST(strftime('%s', a.file_modified_at) AS "
        "INTEGER), 0), COALESCE(a.mime_type, ''), a.width, a.height FROM image_assets a LEFT JOIN "
        "facefill_scan_status s ON s.asset_id = a.id WHERE " +
        PendingWhere(query) + " ORDER BY a.id LIMIT ?");
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, query.after_id).Bind(2, int64_t{query.limit});
    std::vector<AssetRecord> assets;
    FACEFILL_RETURN_IF_ERROR(stmt->ForEachRow([&] {
      AssetRecord a;
      a.id = stmt->Int(0);
      a.path = stmt->Text(1);
      a.file_size = stmt->Int(2);
      a.file_modified_at = stmt->Int(3);
      a.mime_type = stmt->Text(4);
      if (!stmt->IsNull(5)) a.width = static_cast<int>(stmt->Int(5));
      if (!stmt->IsNull(6)) a.height = static_cast<int>(stmt->Int(6));
      assets.push_back(std::move(a));
    }));
    return assets;
  }

  Result<int64_t> CountPending(const PendingQuery& query) override {
    std::lock_guard lock(db_->mutex());
    auto stmt = db_->Prepare(
        "SELECT COUNT(*) FROM image_assets a LEFT JOIN facefill_scan_status s ON s.asset_id = a.id WHERE " +
        PendingWhere(query));
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, query.after_id);
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    return stmt->Int(0);
  }

  Result<std::map<int64_t, std::vector<StoredFace>>> FacesOfAssets(const std::vector<int64_t>& asset_ids) override {
    std::lock_guard lock(db_->mutex());
    std::map<int64_t, std::vector<StoredFace>> faces;
    if (asset_ids.empty()) return faces;
    auto stmt = db_->Prepare(std::string("SELECT ") + kSqliteFaceColumns +
                             " FROM face_instances f JOIN image_assets a ON a.id = f.asset_id WHERE f.asset_id IN (" +
                             Placeholders(asset_ids.size()) + ")");
    if (!stmt.ok()) return stmt.status();
    for (size_t i = 0; i < asset_ids.size(); ++i) stmt->Bind(static_cast<int>(i + 1), asset_ids[i]);
    auto rows = ReadStoredFaces(&*stmt);
    if (!rows.ok()) return rows.status();
    for (auto& f : *rows) faces[f.asset_id].push_back(std::move(f));
    return faces;
  }

  // One process owns a SQLite catalog: there are no leases to honour.
  Status CommitScans(const std::vector<ScanOutcome>& outcomes, const std::string& model_id,
                     const std::string& /*lease_owner*/, std::vector<std::string>* deleted_point_ids) override {
    std::lock_guard lock(db_->mutex());
    std::vector<std::string> deleted;
    Status committed = db_->Transaction([&]() -> Status {
      deleted.clear();
      // A face someone labelled since it was read is kept all the same: labels are a person's work.
      auto remove = db_->Prepare(
          "DELETE FROM face_instances WHERE id = ? AND person_id IS NULL "
          "RETURNING COALESCE(qdrant_point_id, id)");
      // A matched face keeps its vector id, person and cluster: only what detection measures is updated.
      auto upsert = db_->Prepare(
          "INSERT INTO face_instances(id, asset_id, bbox_x, bbox_y, bbox_w, bbox_h, landmarks, "
          "detection_confidence, quality_score, qdrant_point_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
          "ON CONFLICT(id) DO UPDATE SET bbox_x = excluded.bbox_x, bbox_y = excluded.bbox_y, bbox_w = "
          "excluded.bbox_w, bbox_h = excluded.bbox_h, landmarks = excluded.landmarks, detection_confidence = "
          "excluded.detection_confidence, quality_score = excluded.quality_score, updated_at = CURRENT_TIMESTAMP");
      auto status = db_->Prepare(
          "INSERT INTO facefill_scan_status(asset_id, status, face_count, model_id, scanned_at, error_code, "
          "error_message, lease_owner, lease_expires_at) VALUES (?, ?, ?, ?, CURRENT_TIMESTAMP, ?, ?, NULL, NULL) "
          "ON CONFLICT(asset_id) DO UPDATE SET status = excluded.status, face_count = excluded.face_count, "
          "model_id = excluded.model_id, scanned_at = excluded.scanned_at, error_code = excluded.error_code, "
          "error_message = excluded.error_message, lease_owner = NULL, lease_expires_at = NULL");
      for (auto* s : {&remove, &upsert, &status}) {
        if (!s->ok()) return s->status();
      }
      for (const auto& outcome : outcomes) {
        if (outcome.state != ScanState::kError) {
          for (const auto& gone : outcome.removed) {
            remove->Bind(1, gone.id);
            FACEFILL_RETURN_IF_ERROR(remove->ForEachRow([&] { deleted.push_back(remove->Text(0)); }));
          }
          for (const auto& f : outcome.faces) {
            upsert->Bind(1, f.id).Bind(2, f.asset_id).Bind(3, int64_t{f.bbox_x}).Bind(4, int64_t{f.bbox_y});
            upsert->Bind(5, int64_t{f.bbox_w}).Bind(6, int64_t{f.bbox_h}).Bind(7, LandmarksJson(f.landmarks).dump());
            upsert->Bind(8, double{f.detection_confidence}).Bind(9, double{f.quality_score}).Bind(10, f.point_id);
            FACEFILL_RETURN_IF_ERROR(upsert->Run());
          }
        }
        status->Bind(1, outcome.asset.id).Bind(2, std::string(ScanStateName(outcome.state)));
        status->Bind(3, outcome.face_count()).Bind(4, model_id);
        if (outcome.state == ScanState::kError) {
          status->Bind(5, std::string(StatusCodeName(outcome.error.code()))).Bind(6, outcome.error.message());
        } else {
          status->BindNull(5).BindNull(6);
        }
        FACEFILL_RETURN_IF_ERROR(status->Run());
      }
      return Status::Ok();
    });
    if (committed.ok() && deleted_point_ids != nullptr) *deleted_point_ids = std::move(deleted);
    return committed;
  }

  Result<std::vector<StoredFace>> FacesByPointIds(const std::vector<std::string>& point_ids) override {
    std::lock_guard lock(db_->mutex());
    if (point_ids.empty()) return std::vector<StoredFace>{};
    auto stmt = db_->Prepare(std::string("SELECT ") + kSqliteFaceColumns +
                             " FROM face_instances f JOIN image_assets a ON a.id = f.asset_id WHERE "
                             "COALESCE(f.qdrant_point_id, f.id) IN (" +
                             Placeholders(point_ids.size()) + ")");
    if (!stmt.ok()) return stmt.status();
    for (size_t i = 0; i < point_ids.size(); ++i) stmt->Bind(static_cast<int>(i + 1), point_ids[i]);
    return ReadStoredFaces(&*stmt);
  }

  Result<IdPage> ListPointIds(const std::string& cursor, int limit) override {
    std::lock_guard lock(db_->mutex());
    // The expression face_instances_point_id indexes: each page is a range of it.
    return sqlite::ReadIdPage(*db_, "face_instances", "COALESCE(qdrant_point_id, id)", cursor, limit);
  }

  Result<std::vector<StoredFace>> SampleFaces(int limit) override {
    std::lock_guard lock(db_->mutex());
    auto stmt = db_->Prepare(std::string("SELECT ") + kSqliteFaceColumns +
                             " FROM face_instances f JOIN image_assets a ON a.id = f.asset_id WHERE f.landmarks IS "
                             "NOT NULL ORDER BY f.id LIMIT ?");
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, int64_t{limit});
    return ReadStoredFaces(&*stmt);
  }

  Result<std::optional<std::string>> VectorModel(const std::string& store) override {
    std::lock_guard lock(db_->mutex());
    auto stmt = db_->Prepare("SELECT model_id FROM facefill_vector_models WHERE store = ?");
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, store);
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) return std::optional<std::string>();
    return std::optional<std::string>(stmt->Text(0));
  }

  Status RecordVectorModel(const std::string& store, const std::string& model_id, int dimension) override {
    std::lock_guard lock(db_->mutex());
    auto stmt = db_->Prepare(
        "INSERT INTO facefill_vector_models(store, model_id, dimension) VALUES (?, ?, ?) ON CONFLICT(store) DO "
        "UPDATE SET model_id = excluded.model_id, dimension = excluded.dimension, recorded_at = CURRENT_TIMESTAMP");
    if (!stmt.ok()) return stmt.status();
    return stmt->Bind(1, store).Bind(2, model_id).Bind(3, int64_t{dimension}).Run();
  }

  Result<std::vector<int64_t>> AssetsWithMissingFaces() override {
    std::lock_guard lock(db_->mutex());
    auto stmt = db_->Prepare(
        "SELECT s.asset_id FROM facefill_scan_status s WHERE s.status IN ('done', 'no_faces') AND s.face_count <> "
        "(SELECT COUNT(*) FROM face_instances f WHERE f.asset_id = s.asset_id) ORDER BY s.asset_id");
    if (!stmt.ok()) return stmt.status();
    std::vector<int64_t> ids;
    FACEFILL_RETURN_IF_ERROR(stmt->ForEachRow([&] { ids.push_back(stmt->Int(0)); }));
    return ids;
  }

  Status MarkForRescan(const std::vector<int64_t>& asset_ids, const std::vector<std::string>& point_ids) override {
    std::lock_guard lock(db_->mutex());
    return db_->Transaction([&]() -> Status {
      auto by_asset = db_->Prepare("DELETE FROM facefill_scan_status WHERE asset_id = ?");
      auto by_face = db_->Prepare(
          "DELETE FROM facefill_scan_status WHERE asset_id = (SELECT asset_id FROM face_instances WHERE "
          "COALESCE(qdrant_point_id, id) = ?)");
      if (!by_asset.ok()) return by_asset.status();
      if (!by_face.ok()) return by_face.status();
      for (int64_t id : asset_ids) FACEFILL_RETURN_IF_ERROR(by_asset->Bind(1, id).Run());
      for (const auto& id : point_ids) FACEFILL_RETURN_IF_ERROR(by_face->Bind(1, id).Run());
      return Status::Ok();
    });
  }

  Result<CatalogStats> Stats() override {
    std::lock_guard lock(db_->mutex());
    CatalogStats stats;
    auto stmt = db_->Prepare(
        "SELECT (SELECT COUNT(*) FROM image_assets), "
        "(SELECT COUNT(*) FROM facefill_scan_status WHERE status IN ('done', 'no_faces')), "
        "(SELECT COUNT(*) FROM facefill_scan_status WHERE status = 'no_faces'), "
        "(SELECT COUNT(*) FROM facefill_scan_status WHERE status = 'error'), "
        "(SELECT COUNT(*) FROM face_instances)");
    if (!stmt.ok()) return stmt.status();
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    stats.assets = stmt->Int(0);
    stats.scanned = stmt->Int(1);
    stats.no_faces = stmt->Int(2);
    stats.errors = stmt->Int(3);
    stats.faces = stmt->Int(4);
    auto reasons = db_->Prepare(
        "SELECT error_code, COUNT(*) FROM facefill_scan_status WHERE status = 'error' GROUP BY error_code");
    if (!reasons.ok()) return reasons.status();
    FACEFILL_RETURN_IF_ERROR(reasons->ForEachRow([&] { stats.errors_by_reason[reasons->Text(0)] = reasons->Int(1); }));
    return stats;
  }

  Result<std::vector<AssetRecord>> AssetsUnder(const std::string& folder) override {
    std::lock_guard lock(db_->mutex());
    const std::string prefix = folder.empty() || folder.back() != '/' ? folder + "/" : folder;
    std::string end = prefix;
    end.back() = '/' + 1;  // paths compare bytewise (BINARY): [prefix, end) is everything inside the folder
    auto stmt = db_->Prepare("SELECT id, path FROM image_assets WHERE path >= ? AND path < ? ORDER BY id");
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, prefix).Bind(2, end);
    std::vector<AssetRecord> assets;
    FACEFILL_RETURN_IF_ERROR(stmt->ForEachRow([&] {
      AssetRecord a;
      a.id = stmt->Int(0);
      a.path = stmt->Text(1);
      assets.push_back(std::move(a));
    }));
    return assets;
  }

  Result<std::vector<std::string>> RemoveAssets(const std::vector<int64_t>& asset_ids) override {
    std::lock_guard lock(db_->mutex());
    std::vector<std::string> face_ids;
    FACEFILL_RETURN_IF_ERROR(db_->Transaction([&]() -> Status {
      face_ids.clear();
      for (int64_t id : asset_ids) {
        auto faces = db_->Prepare("SELECT id FROM face_instances WHERE asset_id = ?");
        if (!faces.ok()) return faces.status();
        faces->Bind(1, id);
        FACEFILL_RETURN_IF_ERROR(faces->ForEachRow([&] { face_ids.push_back(faces->Text(0)); }));
        // Face rows and the scan status go with the asset (ON DELETE CASCADE).
        auto remove = db_->Prepare("DELETE FROM image_assets WHERE id = ?");
        if (!remove.ok()) return remove.status();
        FACEFILL_RETURN_IF_ERROR(remove->Bind(1, id).Run());
      }
      return Status::Ok();
    }));
    return face_ids;
  }

  Result<std::vector<FailedAsset>> ListErrors(int64_t limit) override {
    std::lock_guard lock(db_->mutex());
    auto stmt = db_->Prepare(
        "SELECT a.id, a.path, COALESCE(s.error_code, ''), "
        "COALESCE(CASE WHEN substr(s.error_message, 1, length(a.path) + 2) = a.path || ': ' "
        "THEN substr(s.error_message, length(a.path) + 3) ELSE s.error_message END, ''), s.scanned_at "
        "FROM facefill_scan_status s JOIN image_assets a ON a.id = s.asset_id WHERE s.status = 'error' "
        "ORDER BY s.scanned_at DESC, a.path LIMIT ?");
    if (!stmt.ok()) return stmt.status();
    stmt->Bind(1, limit > 0 ? limit : int64_t{-1});
    std::vector<FailedAsset> failed;
    FACEFILL_RETURN_IF_ERROR(stmt->ForEachRow([&] {
      failed.push_back({stmt->Int(0), stmt->Text(1), stmt->Text(2), stmt->Text(3), stmt->Text(4)});
    }));
    return failed;
  }

  Status AddLibraryRoot(const std::string& canonical_path) override {
    std::lock_guard lock(db_->mutex());
    auto stmt = db_->Prepare("INSERT INTO facefill_library_roots(path) VALUES (?) ON CONFLICT(path) DO NOTHING");
    if (!stmt.ok()) return stmt.status();
    return stmt->Bind(1, canonical_path).Run();
  }

  Result<std::vector<std::string>> LibraryRoots() override {
    std::lock_guard lock(db_->mutex());
    return Strings("SELECT path FROM facefill_library_roots ORDER BY path");
  }

 private:
  Result<std::vector<std::string>> Strings(const std::string& sql) {
    auto stmt = db_->Prepare(sql);
    if (!stmt.ok()) return stmt.status();
    std::vector<std::string> values;
    FACEFILL_RETURN_IF_ERROR(stmt->ForEachRow([&] { values.push_back(stmt->Text(0)); }));
    return values;
  }

  std::unique_ptr<Database> db_;
};

}  // namespace

std::string_view ScanStateName(ScanState state) {
  switch (state) {
    case ScanState::kDone:
      return "done";
    case ScanState::kNoFaces:
      return "no_faces";
    case ScanState::kError:
      return "error";
  }
  return "error";
}

Result<std::unique_ptr<Catalog>> OpenSqliteCatalog(const std::string& url) {
  auto db = Database::Open(SqlitePathFromUrl(url));
  if (!db.ok()) return db.status();
  auto catalog = std::make_unique<SqliteCatalog>(std::move(db).value());
  FACEFILL_RETURN_IF_ERROR(catalog->Migrate());
  return std::unique_ptr<Catalog>(std::move(catalog));
}

}  // namespace facefill
