// The PostgreSQL catalog: the image-search service's image_assets and face_instances tables (created only when the
// database has none; an existing service schema is never altered) plus facefill's own objects, all prefixed
// facefill_. Writes are batched: each call is one transaction with one statement per table, its rows passed as one
// JSON parameter. Workers share the work through leases on facefill_scan_status rows (FOR UPDATE SKIP LOCKED).
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "catalog_backends.h"
#include "facefill/landmarks_json.h"
#include "pg_session.h"

namespace facefill {
namespace {

using nlohmann::json;
using pg::ArrayLiteral;
using pg::FirstColumn;
using pg::Rows;

// The service's tables, as design.md describes them; run only when image_assets does not exist yet.
constexpr const char* kServiceSchema = R"sql(
CREATE TABLE image_assets (
  id SERIAL PRIMARY KEY,
  path TEXT NOT NULL UNIQUE,
  created_at TIMESTAMP NOT NULL DEFAULT now(),
  width INTEGER,
  height INTEGER,
  file_size BIGINT,
  mime_type VARCHAR(100),
  file_modified_at TIMESTAMP,
  taken_at TIMESTAMP
);
CREATE TABLE face_instances (
  id UUID PRIMARY KEY,
  asset_id INTEGER NOT NULL REFERENCES image_assets(id) ON DELETE CASCADE,
  bbox_x INTEGER NOT NULL,
  bbox_y INTEGER NOT NULL,
  bbox_w INTEGER NOT NULL,
  bbox_h INTEGER NOT NULL,
  landmarks JSON,
  detection_confidence DOUBLE PRECISION NOT NULL,
  quality_score DOUBLE PRECISION,
  qdrant_point_id UUID,
  cluster_id VARCHAR(100),
  person_id UUID,
  created_at TIMESTAMP NOT NULL DEFAULT now(),
  updated_at TIMESTAMP NOT NULL DEFAULT now(),
  UNIQUE (asset_id, bbox_x, bbox_y, bbox_w, bbox_h)
);
CREATE INDEX ix_face_instances_asset_id ON face_instances(asset_id);
)sql";

// facefill's own objects. Each entry migrates from version i to i + 1. Only append.
const std::vector<std::string> kMigrations = {
    R"sql(
CREATE TABLE facefill_scan_status (
  asset_id INTEGER PRIMARY KEY REFERENCES image_assets(id) ON DELETE CASCADE,
  status TEXT NOT NULL CHECK (status IN ('pending', 'done', 'no_faces', 'error')),
  face_count INTEGER NOT NULL DEFAULT 0,
  model_id TEXT,
  scanned_at TIMESTAMPTZ,
  error_code TEXT,
  error_message TEXT,
  scan_count INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT,
  lease_expires_at TIMESTAMPTZ
);
CREATE INDEX facefill_scan_status_claimable ON facefill_scan_status(asset_id) WHERE status IN ('pending', 'error');
CREATE TABLE facefill_library_roots (
  path TEXT PRIMARY KEY,
  added_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
)sql",
};

std::string PgvectorSchema(int dimension) {
  const std::string d = std::to_string(dimension);
  return R"sql(
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE IF NOT EXISTS facefill_face_vectors (
  face_id UUID PRIMARY KEY REFERENCES face_instances(id) ON DELETE CASCADE,
  asset_id INTEGER NOT NULL,
  embedding vector()sql" +
         d + R"sql() NOT NULL
);
CREATE INDEX IF NOT EXISTS facefill_face_vectors_hnsw ON facefill_face_vectors USING hnsw (embedding vector_cosine_ops);
)sql";
}

// Columns of AssetRecord, in this order, for ReadAsset.
constexpr const char* kAssetColumns =
    "a.id, a.path, COALESCE(a.file_size, 0), COALESCE(EXTRACT(EPOCH FROM a.file_modified_at)::BIGINT, 0), "
    "COALESCE(a.mime_type, ''), a.width, a.height";

AssetRecord ReadAsset(const pqxx::row& row) {
  AssetRecord a;
  a.id = row[0].as<int64_t>();
  a.path = row[1].as<std::string>();
  a.file_size = row[2].as<int64_t>();
  a.file_modified_at = row[3].as<int64_t>();
  a.mime_type = row[4].as<std::string>();
  if (!row[5].is_null()) a.width = row[5].as<int>();
  if (!row[6].is_null()) a.height = row[6].as<int>();
  return a;
}

// Columns of StoredFace, in this order, for ReadFace (f = face_instances, a = image_assets).
constexpr const char* kFaceColumns =
    "f.id::text, f.asset_id, f.bbox_x, f.bbox_y, f.bbox_w, f.bbox_h, f.detection_confidence, a.path";

StoredFace ReadFace(const pqxx::row& row) {
  StoredFace f;
  f.id = row[0].as<std::string>();
  f.asset_id = row[1].as<int64_t>();
  f.bbox_x = row[2].as<int>();
  f.bbox_y = row[3].as<int>();
  f.bbox_w = row[4].as<int>();
  f.bbox_h = row[5].as<int>();
  f.detection_confidence = row[6].as<float>();
  f.asset_path = row[7].as<std::string>();
  return f;
}

std::string PendingWhere(const PendingQuery& q) {
  if (q.rescan) return "a.id > $1";
  return std::string("a.id > $1 AND (s.asset_id IS NULL OR s.status = 'pending'") +
         (q.retry_errors ? " OR s.status = 'error')" : ")");
}

class PostgresCatalog final : public Catalog {
 public:
  PostgresCatalog(std::unique_ptr<pg::Session> session, CatalogOptions options)
      : session_(std::move(session)), options_(options) {}

  Status Migrate() {
    return session_->Transact([&](pqxx::work& txn) -> Status {
      // One migrating process at a time, however many workers start together.
      txn.exec("SELECT pg_advisory_xact_lock(hashtext('facefill_schema_migrations'))");
      if (txn.exec1("SELECT to_regclass('image_assets') IS NULL")[0].as<bool>()) txn.exec(kServiceSchema);
      txn.exec(
          "CREATE TABLE IF NOT EXISTS facefill_schema_migrations (version INTEGER PRIMARY KEY, "
          "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
      const auto version = static_cast<size_t>(
          txn.exec1("SELECT COALESCE(MAX(version), 0) FROM facefill_schema_migrations")[0].as<int>());
      if (version > kMigrations.size()) {
        return Status(StatusCode::kDatabaseError, "schema version " + std::to_string(version) +
                                                      " is newer than this facefill knows; upgrade facefill");
      }
      for (size_t v = version; v < kMigrations.size(); ++v) {
        txn.exec(kMigrations[v]);
        txn.exec_params("INSERT INTO facefill_schema_migrations(version) VALUES ($1)", static_cast<int>(v + 1));
      }
      if (options_.pgvector) txn.exec(PgvectorSchema(options_.pgvector_dimension));
      return Status::Ok();
    });
  }

  Status UpsertAssets(const std::vector<AssetRecord>& assets, ScanCounts* counts) override {
    if (assets.empty()) return Status::Ok();
    return session_->Transact([&](pqxx::work& txn) -> Status {
      ScanCounts local;
      json paths = json::array();
      for (const auto& a : assets) paths.push_back(a.path);
      std::map<std::string, std::pair<int64_t, bool>> existing;  // path -> (id, unchanged)
      std::map<std::string, const AssetRecord*> by_path;
      for (const auto& a : assets) by_path[a.path] = &a;
      for (const auto& row : txn.exec_params(
               "SELECT id, path, COALESCE(file_size, -1), COALESCE(EXTRACT(EPOCH FROM file_modified_at)::BIGINT, -1) "
               "FROM image_assets WHERE path IN (SELECT json_array_elements_text($1::json))",
               paths.dump())) {
        const AssetRecord& a = *by_path[row[1].as<std::string>()];
        existing[a.path] = {row[0].as<int64_t>(),
                            row[2].as<int64_t>() == a.file_size && row[3].as<int64_t>() == a.file_modified_at};
      }
      json added = json::array(), changed = json::array();
      for (const auto& a : assets) {
        json j = {{"path", a.path},
                  {"width", a.width ? json(*a.width) : json()},
                  {"height", a.height ? json(*a.height) : json()},
                  {"file_size", a.file_size},
                  {"mime_type", a.mime_type.empty() ? json() : json(a.mime_type)},
                  {"mtime", a.file_modified_at}};
        auto it = existing.find(a.path);
        if (it == existing.end()) {
          added.push_back(std::move(j));
        } else if (it->second.second) {
          ++local.unchanged;
        } else {
          j["id"] = it->second.first;
          changed.push_back(std::move(j));
        }
      }
      if (!added.empty()) {
        local.added += txn.exec_params(
                              "INSERT INTO image_assets(path, created_at, width, height, file_size, mime_type, "
                              "file_modified_at) SELECT x.path, now(), x.width, x.height, x.file_size, x.mime_type, "
                              "to_timestamp(x.mtime) AT TIME ZONE 'UTC' FROM json_to_recordset($1::json) AS x(path "
                              "text, width int, height int, file_size bigint, mime_type text, mtime bigint) "
                              "ON CONFLICT (path) DO NOTHING",
                              added.dump())
                           .affected_rows();
      }
      if (!changed.empty()) {
        txn.exec_params(
            "UPDATE image_assets a SET width = x.width, height = x.height, file_size = x.file_size, mime_type = "
            "x.mime_type, file_modified_at = to_timestamp(x.mtime) AT TIME ZONE 'UTC' FROM json_to_recordset($1::json) "
            "AS x(id int, width int, height int, file_size bigint, mime_type text, mtime bigint) WHERE a.id = x.id",
            changed.dump());
        // Changed files are scanned again.
        txn.exec_params(
            "UPDATE facefill_scan_status SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL "
            "WHERE asset_id IN (SELECT (x->>'id')::int FROM json_array_elements($1::json) x)",
            changed.dump());
        local.refreshed += static_cast<int64_t>(changed.size());
      }
      *counts = local;
      return Status::Ok();
    });
  }

  Result<std::vector<AssetRecord>> ListPending(const PendingQuery& query) override {
    return Rows(
        session_->Query(std::string("SELECT ") + kAssetColumns +
                            " FROM image_assets a LEFT JOIN facefill_scan_status s ON s.asset_id = a.id WHERE " +
                            PendingWhere(query) + " ORDER BY a.id LIMIT $2",
                        query.after_id, query.limit),
        ReadAsset);
  }

  Result<int64_t> CountPending(const PendingQuery& query) override {
    return session_->QueryInt(
        "SELECT COUNT(*) FROM image_assets a LEFT JOIN facefill_scan_status s ON s.asset_id = a.id WHERE " +
            PendingWhere(query),
        query.after_id);
  }

  Result<std::map<int64_t, std::vector<StoredFace>>> FacesOfAssets(const std::vector<int64_t>& asset_ids) override {
    std::map<int64_t, std::vector<StoredFace>> faces;
    if (asset_ids.empty()) return faces;
    auto rows = Rows(session_->Query(std::string("SELECT ") + kFaceColumns +
                                         " FROM face_instances f JOIN image_assets a ON a.id = f.asset_id "
                                         "WHERE f.asset_id = ANY($1::int[])",
                                     ArrayLiteral(asset_ids)),
                     ReadFace);
    if (!rows.ok()) return rows.status();
    for (auto& f : *rows) faces[f.asset_id].push_back(std::move(f));
    return faces;
  }

  Status CommitScans(const std::vector<ScanOutcome>& outcomes, const std::string& model_id,
                     const std::string& lease_owner) override {
    if (outcomes.empty()) return Status::Ok();
    return session_->Transact([&](pqxx::work& txn) -> Status {
      std::vector<int64_t> ids;
      for (const auto& o : outcomes) ids.push_back(o.asset.id);
      // Lock these assets' status rows and leave out the ones that are not ours to write: with a lease owner, every
      // asset whose lease we no longer hold (taken over after it expired, and maybe committed already); without
      // one, assets a worker holds a live lease on.
      const char* not_ours = lease_owner.empty()
                                 ? "lease_owner IS NOT NULL AND lease_owner <> $2 AND lease_expires_at > now()"
                                 : "lease_owner IS DISTINCT FROM $2";
      std::set<int64_t> taken_over;
      for (const auto& row : txn.exec_params(std::string("SELECT asset_id FROM facefill_scan_status WHERE asset_id = "
                                                         "ANY($1::int[]) AND ") +
                                                 not_ours + " ORDER BY asset_id FOR UPDATE",
                                             ArrayLiteral(ids), lease_owner)) {
        taken_over.insert(row[0].as<int64_t>());
      }
      json faces = json::array(), statuses = json::array();
      std::vector<int64_t> replaced;  // assets whose face set is replaced
      std::vector<std::string> kept;  // face ids that stay
      for (const auto& o : outcomes) {
        if (taken_over.count(o.asset.id) != 0) continue;
        statuses.push_back(
            {{"asset_id", o.asset.id},
             {"status", ScanStateName(o.state)},
             {"face_count", o.faces.size()},
             {"error_code", o.state == ScanState::kError ? json(StatusCodeName(o.error.code())) : json()},
             {"error_message", o.state == ScanState::kError ? json(o.error.message()) : json()}});
        if (o.state == ScanState::kError) continue;
        replaced.push_back(o.asset.id);
        for (const auto& f : o.faces) {
          kept.push_back(f.id);
          json j = {{"id", f.id},
                    {"asset_id", f.asset_id},
                    {"bbox_x", f.bbox_x},
                    {"bbox_y", f.bbox_y},
                    {"bbox_w", f.bbox_w},
                    {"bbox_h", f.bbox_h},
                    {"landmarks", LandmarksJson(f.landmarks)},
                    {"detection_confidence", f.detection_confidence},
                    {"quality_score", f.quality_score}};
          if (options_.pgvector) {
            if (static_cast<int>(f.embedding.size()) != options_.pgvector_dimension) {
              return Status(StatusCode::kVectorStoreError,
                            "the pgvector column holds " + std::to_string(options_.pgvector_dimension) +
                                "-d vectors but the model gives " + std::to_string(f.embedding.size()));
            }
            j["embedding"] = f.embedding;
          }
          faces.push_back(std::move(j));
        }
      }
      if (!replaced.empty()) {
        txn.exec_params("DELETE FROM face_instances WHERE asset_id = ANY($1::int[]) AND NOT (id = ANY($2::uuid[]))",
                        ArrayLiteral(replaced), ArrayLiteral(kept));
      }
      if (!faces.empty()) {
        txn.exec_params(
            "INSERT INTO face_instances(id, asset_id, bbox_x, bbox_y, bbox_w, bbox_h, landmarks, detection_confidence, "
            "quality_score, qdrant_point_id, created_at, updated_at) SELECT x.id, x.asset_id, x.bbox_x, x.bbox_y, "
            "x.bbox_w, x.bbox_h, x.landmarks, x.detection_confidence, x.quality_score, x.id, now(), now() FROM "
            "json_to_recordset($1::json) AS x(id uuid, asset_id int, bbox_x int, bbox_y int, bbox_w int, bbox_h int, "
            "landmarks json, detection_confidence float8, quality_score float8) ON CONFLICT (id) DO UPDATE SET "
            "bbox_x = excluded.bbox_x, bbox_y = excluded.bbox_y, bbox_w = excluded.bbox_w, bbox_h = excluded.bbox_h, "
            "landmarks = excluded.landmarks, detection_confidence = excluded.detection_confidence, quality_score = "
            "excluded.quality_score, updated_at = now()",
            faces.dump());
        if (options_.pgvector) {
          txn.exec_params(
              "INSERT INTO facefill_face_vectors(face_id, asset_id, embedding) SELECT x.id, x.asset_id, "
              "x.embedding::text::vector FROM json_to_recordset($1::json) AS x(id uuid, asset_id int, embedding json) "
              "ON CONFLICT (face_id) DO UPDATE SET asset_id = excluded.asset_id, embedding = excluded.embedding",
              faces.dump());
        }
      }
      if (!statuses.empty()) {
        txn.exec_params(
            "INSERT INTO facefill_scan_status(asset_id, status, face_count, model_id, scanned_at, error_code, "
            "error_message, scan_count) SELECT x.asset_id, x.status, x.face_count, $2, now(), x.error_code, "
            "x.error_message, 1 FROM json_to_recordset($1::json) AS x(asset_id int, status text, face_count int, "
            "error_code text, error_message text) ON CONFLICT (asset_id) DO UPDATE SET status = excluded.status, "
            "face_count = excluded.face_count, model_id = excluded.model_id, scanned_at = excluded.scanned_at, "
            "error_code = excluded.error_code, error_message = excluded.error_message, scan_count = "
            "facefill_scan_status.scan_count + 1, lease_owner = NULL, lease_expires_at = NULL",
            statuses.dump(), model_id);
      }
      return Status::Ok();
    });
  }

  bool SupportsClaims() const override { return true; }

  Result<std::vector<AssetRecord>> Claim(const ClaimRequest& request) override {
    std::vector<AssetRecord> assets;
    auto claim = [&](pqxx::work& txn) {
      assets.clear();
      for (const auto& row : txn.exec_params(
               std::string("WITH claimed AS (UPDATE facefill_scan_status s SET lease_owner = $1, lease_expires_at = "
                           "now() + make_interval(secs => $2) WHERE s.asset_id IN (SELECT asset_id FROM "
                           "facefill_scan_status WHERE (status = 'pending' OR (status = 'error' AND scanned_at < "
                           "to_timestamp($3))) AND (lease_expires_at IS NULL OR lease_expires_at < now()) ORDER BY "
                           "asset_id LIMIT $4 FOR UPDATE SKIP LOCKED) RETURNING s.asset_id) SELECT ") +
                   kAssetColumns + " FROM image_assets a JOIN claimed c ON c.asset_id = a.id ORDER BY a.id",
               request.owner, request.lease_seconds, request.retry_errors_before, request.limit)) {
        assets.push_back(ReadAsset(row));
      }
    };
    FACEFILL_RETURN_IF_ERROR(session_->Transact([&](pqxx::work& txn) -> Status {
      claim(txn);
      return Status::Ok();
    }));
    if (!assets.empty()) return assets;
    // Nothing claimable: give assets added since (by `scan` or by the service) their pending row, then try again.
    FACEFILL_RETURN_IF_ERROR(session_->Execute(
        "INSERT INTO facefill_scan_status(asset_id, status) SELECT a.id, 'pending' FROM image_assets a WHERE NOT "
        "EXISTS (SELECT 1 FROM facefill_scan_status s WHERE s.asset_id = a.id) ON CONFLICT (asset_id) DO NOTHING"));
    FACEFILL_RETURN_IF_ERROR(session_->Transact([&](pqxx::work& txn) -> Status {
      claim(txn);
      return Status::Ok();
    }));
    return assets;
  }

  Status ReleaseLeases(const std::string& owner) override {
    return session_->Execute(
        "UPDATE facefill_scan_status SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = $1", owner);
  }

  Result<int64_t> CountLiveLeases() override {
    return session_->QueryInt(
        "SELECT COUNT(*) FROM facefill_scan_status WHERE status IN ('pending', 'error') AND lease_expires_at > now()");
  }

  Result<std::vector<StoredFace>> FacesByIds(const std::vector<std::string>& ids) override {
    if (ids.empty()) return std::vector<StoredFace>{};
    return Rows(session_->Query(std::string("SELECT ") + kFaceColumns +
                                    " FROM face_instances f JOIN image_assets a ON a.id = f.asset_id "
                                    "WHERE f.id = ANY($1::uuid[])",
                                ArrayLiteral(ids)),
                ReadFace);
  }

  Result<std::vector<std::string>> AllFaceIds() override {
    return Rows(session_->Query("SELECT id::text FROM face_instances ORDER BY id"), FirstColumn<std::string>);
  }

  Result<std::vector<int64_t>> AssetsWithMissingFaces() override {
    return Rows(
        session_->Query("SELECT s.asset_id FROM facefill_scan_status s WHERE s.status IN ('done', 'no_faces') AND "
                        "s.face_count <> (SELECT COUNT(*) FROM face_instances f WHERE f.asset_id = s.asset_id) "
                        "ORDER BY s.asset_id"),
        FirstColumn<int64_t>);
  }

  Status MarkForRescan(const std::vector<int64_t>& asset_ids, const std::vector<std::string>& face_ids) override {
    return session_->Execute(
        "UPDATE facefill_scan_status SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL WHERE "
        "asset_id = ANY($1::int[]) OR asset_id IN (SELECT asset_id FROM face_instances WHERE id = ANY($2::uuid[]))",
        ArrayLiteral(asset_ids), ArrayLiteral(face_ids));
  }

  Result<CatalogStats> Stats() override {
    CatalogStats stats;
    FACEFILL_RETURN_IF_ERROR(session_->Transact([&](pqxx::work& txn) -> Status {
      auto row = txn.exec1(
          "SELECT (SELECT COUNT(*) FROM image_assets), "
          "(SELECT COUNT(*) FROM facefill_scan_status WHERE status IN ('done', 'no_faces')), "
          "(SELECT COUNT(*) FROM facefill_scan_status WHERE status = 'no_faces'), "
          "(SELECT COUNT(*) FROM facefill_scan_status WHERE status = 'error'), "
          "(SELECT COUNT(*) FROM face_instances)");
      stats = CatalogStats{};
      stats.assets = row[0].as<int64_t>();
      stats.scanned = row[1].as<int64_t>();
      stats.no_faces = row[2].as<int64_t>();
      stats.errors = row[3].as<int64_t>();
      stats.faces = row[4].as<int64_t>();
      for (const auto& r : txn.exec(
               "SELECT error_code, COUNT(*) FROM facefill_scan_status WHERE status = 'error' GROUP BY error_code")) {
        stats.errors_by_reason[r[0].as<std::string>()] = r[1].as<int64_t>();
      }
      return Status::Ok();
    }));
    return stats;
  }

  Result<std::vector<FailedAsset>> ListErrors(int64_t limit) override {
    return Rows(
        session_->Query("SELECT a.id, a.path, COALESCE(s.error_code, ''), "
                        "COALESCE(CASE WHEN substr(s.error_message, 1, length(a.path) + 2) = a.path || ': ' "
                        "THEN substr(s.error_message, length(a.path) + 3) ELSE s.error_message END, ''), "
                        "to_char(s.scanned_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') "
                        "FROM facefill_scan_status s JOIN image_assets a ON a.id = s.asset_id "
                        "WHERE s.status = 'error' ORDER BY s.scanned_at DESC, a.path LIMIT $1",
                        limit > 0 ? limit : std::numeric_limits<int64_t>::max()),
        +[](const pqxx::row& r) {
          return FailedAsset{r[0].as<int64_t>(), r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<std::string>(),
                             r[4].as<std::string>("")};
        });
  }

  Status AddLibraryRoot(const std::string& canonical_path) override {
    return session_->Execute("INSERT INTO facefill_library_roots(path) VALUES ($1) ON CONFLICT (path) DO NOTHING",
                             canonical_path);
  }

  Result<std::vector<std::string>> LibraryRoots() override {
    return Rows(session_->Query("SELECT path FROM facefill_library_roots ORDER BY path"), FirstColumn<std::string>);
  }

 private:
  std::unique_ptr<pg::Session> session_;
  CatalogOptions options_;
};

}  // namespace

Result<std::unique_ptr<Catalog>> OpenPostgresCatalog(const std::string& url, const CatalogOptions& options) {
  auto session = pg::Session::Open(url);
  if (!session.ok()) return session.status();
  auto catalog = std::make_unique<PostgresCatalog>(std::move(session).value(), options);
  FACEFILL_RETURN_IF_ERROR(catalog->Migrate());
  return std::unique_ptr<Catalog>(std::move(catalog));
}

}  // namespace facefill
