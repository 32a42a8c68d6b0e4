// The PostgreSQL catalog: the image-search service's image_assets and face_instances tables (never created or altered
// on the service's own database; created as the service creates them with --standalone) plus facefill's own objects
// in the schema "facefill". Writes are batched: each call is one transaction with one statement per table, its rows
// passed as one JSON parameter. Workers share the work through leases on facefill.scan_status rows (FOR UPDATE SKIP
// LOCKED). An asset with face rows and no facefill status was face-scanned by the service and counts as scanned.
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "../core/id_pages.h"
#include "../core/landmarks_json.h"
#include "../service/service_schema.h"
#include "catalog_backends.h"
#include "pg_session.h"

namespace facefill {
namespace {

using nlohmann::json;
using pg::ArrayLiteral;
using pg::FirstColumn;
using pg::Rows;

// facefill's own objects, in their own schema so the service's Alembic (which compares only "public") never sees
// them. Each entry migrates from version i to i + 1. Only append. No foreign key points into the service's tables:
// facefill's rows never stand in the way of the service deleting or truncating its own.
const std::vector<std::string> kMigrations = {
    R"sql(
CREATE TABLE facefill.scan_status (
  asset_id INTEGER PRIMARY KEY,
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
CREATE INDEX scan_status_claimable ON facefill.scan_status(asset_id) WHERE status IN ('pending', 'error');
CREATE TABLE facefill.library_roots (
  path TEXT PRIMARY KEY,
  added_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
)sql",
    R"sql(
CREATE TABLE facefill.vector_models (
  store TEXT PRIMARY KEY,
  model_id TEXT NOT NULL,
  dimension INTEGER NOT NULL,
  recorded_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE facefill.rejected_files (
  path TEXT PRIMARY KEY,
  error_code TEXT NOT NULL,
  error_message TEXT,
  seen_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
)sql",
};

// An older facefill kept its tables in "public" as facefill_*: they move into the facefill schema, under the same
// names less the prefix, so the service's autogenerate no longer proposes dropping them.
constexpr const char* kMoveLegacyTables = R"sql(
DO $$
DECLARE t TEXT;
BEGIN
  FOREACH t IN ARRAY ARRAY['schema_migrations', 'scan_status', 'library_roots', 'face_vectors'] LOOP
    IF to_regclass('public.facefill_' || t) IS NOT NULL AND to_regclass('facefill.' || t) IS NULL THEN
      EXECUTE format('ALTER TABLE public.%I SET SCHEMA facefill', 'facefill_' || t);
      EXECUTE format('ALTER TABLE facefill.%I RENAME TO %I', 'facefill_' || t, t);
    END IF;
  END LOOP;
END $$;
)sql";

// Columns of AssetRecord, in this order, for ReadAsset.
constexpr const char* kAssetColumns =
    "a.id, a.path, COALESCE(a.file_size, 0), COALESCE(FLOOR(EXTRACT(EPOCH FROM a.file_modified_at))::BIGINT, 0), "
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
    "f.id::text, COALESCE(f.qdrant_point_id, f.id)::text, f.asset_id, f.bbox_x, f.bbox_y, f.bbox_w, f.bbox_h, "
    "f.detection_confidence, a.path, f.person_id::text, f.cluster_id, f.landmarks::text";

StoredFace ReadFace(const pqxx::row& row) {
  StoredFace f;
  f.id = row[0].as<std::string>();
  f.point_id = row[1].as<std::string>();
  f.asset_id = row[2].as<int64_t>();
  f.bbox_x = row[3].as<int>();
  f.bbox_y = row[4].as<int>();
  f.bbox_w = row[5].as<int>();
  f.bbox_h = row[6].as<int>();
  f.detection_confidence = row[7].as<float>();
  f.asset_path = row[8].as<std::string>();
  if (!row[9].is_null()) f.person_id = row[9].as<std::string>();
  if (!row[10].is_null()) f.cluster_id = row[10].as<std::string>();
  if (!row[11].is_null()) f.landmarks = ParseLandmarksJson(row[11].as<std::string>());
  return f;
}

// The service's rule: an asset with face rows was face-scanned (by the service, when facefill has no status for it).
constexpr const char* kHasFaces = "EXISTS (SELECT 1 FROM face_instances f WHERE f.asset_id = a.id)";

std::string PendingWhere(const PendingQuery& q) {
  if (q.rescan) return "a.id > $1";
  return std::string("a.id > $1 AND ((s.asset_id IS NULL AND NOT ") + kHasFaces + ") OR s.status = 'pending'" +
         (q.retry_errors ? " OR s.status = 'error')" : ")");
}

// Characters (not bytes) in UTF-8 text, as PostgreSQL counts them for varchar(n).
size_t CharacterCount(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

class PostgresCatalog final : public Catalog {
 public:
  PostgresCatalog(std::unique_ptr<pg::Session> session, CatalogOptions options, PgvectorWrites pgvector)
      : session_(std::move(session)), options_(options), pgvector_choice_(pgvector) {}

  Status Migrate() {
    return session_->Transact([&](pqxx::work& txn) -> Status {
      // One migrating process at a time, however many workers start together.
      txn.exec("SELECT pg_advisory_xact_lock(hashtext('facefill_schema_migrations'))");
      auto kind = service::RecogniseOrCreate(txn, options_.standalone);
      if (!kind.ok()) return kind.status();
      kind_ = *kind;
      writes_vectors_ = pgvector_choice_ == PgvectorWrites::kYes ||
                        (pgvector_choice_ == PgvectorWrites::kUnlessServiceDatabase && !IsServiceDatabase());
      path_limit_ = service::PathLimit(txn);
      txn.exec("CREATE SCHEMA IF NOT EXISTS facefill");
      txn.exec(kMoveLegacyTables);
      txn.exec(
          "CREATE TABLE IF NOT EXISTS facefill.schema_migrations (version INTEGER PRIMARY KEY, "
          "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
      const auto version = static_cast<size_t>(
          txn.exec1("SELECT COALESCE(MAX(version), 0) FROM facefill.schema_migrations")[0].as<int>());
      if (version > kMigrations.size()) {
        return Status(StatusCode::kDatabaseError, "schema version " + std::to_string(version) +
                                                      " is newer than this facefill knows; upgrade facefill");
      }
      for (size_t v = version; v < kMigrations.size(); ++v) {
        txn.exec(kMigrations[v]);
        txn.exec_params("INSERT INTO facefill.schema_migrations(version) VALUES ($1)", static_cast<int>(v + 1));
      }
      return Status::Ok();
    });
  }

  bool IsServiceDatabase() const override { return kind_ == service::DatabaseKind::kService; }
  bool WritesVectors() const override { return writes_vectors_; }

  Status UpsertAssets(const std::vector<AssetRecord>& assets, ScanCounts* counts) override {
    if (assets.empty()) return Status::Ok();
    ScanCounts pending_counts;
    Status written = session_->Transact([&](pqxx::work& txn) -> Status {
      ScanCounts local;
      json paths = json::array(), rejected = json::array();
      std::map<std::string, const AssetRecord*> by_path;
      for (const auto& a : assets) {
        // A path the service's column cannot hold is that file's error, not the batch's.
        if (path_limit_ > 0 && CharacterCount(a.path) > static_cast<size_t>(path_limit_)) {
          Status why(StatusCode::kPathTooLong, "the path has " + std::to_string(CharacterCount(a.path)) +
                                                   " characters; image_assets.path holds at most " +
                                                   std::to_string(path_limit_));
          rejected.push_back({{"path", a.path}, {"code", StatusCodeName(why.code())}, {"message", why.message()}});
          local.rejected.push_back({a.path, std::move(why)});
          continue;
        }
        paths.push_back(a.path);
        by_path[a.path] = &a;
      }
      std::map<std::string, std::pair<int64_t, bool>> existing;  // path -> (id, unchanged)
      // Compared at the precision facefill reads (whole seconds): the service keeps fractions of a second.
      for (const auto& row :
           txn.exec_params("SELECT id, path, COALESCE(file_size, -1), "
                           "COALESCE(FLOOR(EXTRACT(EPOCH FROM file_modified_at))::BIGINT, -1) "
                           "FROM image_assets WHERE path IN (SELECT json_array_elements_text($1::json))",
                           paths.dump())) {
        const AssetRecord& a = *by_path[row[1].as<std::string>()];
        existing[a.path] = {row[0].as<int64_t>(),
                            row[2].as<int64_t>() == a.file_size && row[3].as<int64_t>() == a.file_modified_at};
      }
      json added = json::array(), changed = json::array();
      for (const auto& asset : assets) {  // in the caller's order: asset ids follow scan order
        auto found = by_path.find(asset.path);
        if (found == by_path.end()) continue;  // rejected above
        const AssetRecord* a = found->second;
        json j = {{"path", a->path},
                  {"width", a->width ? json(*a->width) : json()},
                  {"height", a->height ? json(*a->height) : json()},
                  {"file_size", a->file_size},
                  {"mime_type", a->mime_type.empty() ? json() : json(a->mime_type)},
                  {"mtime", a->file_modified_at}};
        auto it = existing.find(a->path);
        if (it == existing.end()) {
          added.push_back(std::move(j));
        } else if (it->second.second) {
          ++local.unchanged;
        } else if (IsServiceDatabase()) {
          ++local.left_to_service;  // the service's row: its own ingest updates it
        } else {
          j["id"] = it->second.first;
          changed.push_back(std::move(j));
        }
      }
      if (!added.empty()) {
        local.added += txn.exec_params(
                              "INSERT INTO image_assets(path, width, height, file_size, mime_type, file_modified_at) "
                              "SELECT x.path, x.width, x.height, x.file_size, x.mime_type, to_timestamp(x.mtime) "
                              "FROM json_to_recordset($1::json) AS x(path text, width int, height int, file_size "
                              "bigint, mime_type text, mtime bigint) ON CONFLICT (path) DO NOTHING",
                              added.dump())
                           .affected_rows();
      }
      if (!changed.empty()) {
        txn.exec_params(
            "UPDATE image_assets a SET width = x.width, height = x.height, file_size = x.file_size, mime_type = "
            "x.mime_type, file_modified_at = to_timestamp(x.mtime) FROM json_to_recordset($1::json) "
            "AS x(id int, width int, height int, file_size bigint, mime_type text, mtime bigint) WHERE a.id = x.id",
            changed.dump());
        // Changed files are scanned again.
        txn.exec_params(
            "UPDATE facefill.scan_status SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL "
            "WHERE asset_id IN (SELECT (x->>'id')::int FROM json_array_elements($1::json) x)",
            changed.dump());
        local.refreshed += static_cast<int64_t>(changed.size());
      }
      if (!rejected.empty()) {
        txn.exec_params(
            "INSERT INTO facefill.rejected_files(path, error_code, error_message) SELECT x.path, x.code, x.message "
            "FROM json_to_recordset($1::json) AS x(path text, code text, message text) ON CONFLICT (path) DO UPDATE "
            "SET error_code = excluded.error_code, error_message = excluded.error_message, seen_at = now()",
            rejected.dump());
      }
      // Added to the caller's counts once the transaction is done (a retried transaction starts again from zero).
      pending_counts = std::move(local);
      return Status::Ok();
    });
    if (!written.ok()) return written;
    counts->added += pending_counts.added;
    counts->refreshed += pending_counts.refreshed;
    counts->unchanged += pending_counts.unchanged;
    counts->left_to_service += pending_counts.left_to_service;
    for (auto& r : pending_counts.rejected) counts->rejected.push_back(std::move(r));
    return Status::Ok();
  }

  Result<std::vector<AssetRecord>> ListPending(const PendingQuery& query) override {
    return Rows(
        session_->Query(std::string("SELECT ") + kAssetColumns +
                            " FROM image_assets a LEFT JOIN facefill.scan_status s ON s.asset_id = a.id WHERE " +
                            PendingWhere(query) + " ORDER BY a.id LIMIT $2",
                        query.after_id, query.limit),
        ReadAsset);
  }

  Result<int64_t> CountPending(const PendingQuery& query) override {
    return session_->QueryInt(
        "SELECT COUNT(*) FROM image_assets a LEFT JOIN facefill.scan_status s ON s.asset_id = a.id WHERE " +
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
                     const std::string& lease_owner, std::vector<std::string>* deleted_point_ids) override {
    if (outcomes.empty()) return Status::Ok();
    std::vector<std::string> deleted;  // vector ids of the rows this commit deleted
    Status committed = session_->Transact([&](pqxx::work& txn) -> Status {
      deleted.clear();
      std::vector<int64_t> ids;
      for (const auto& o : outcomes) ids.push_back(o.asset.id);
      // Lock these assets' status rows and leave out the ones that are not ours to write: with a lease owner, every
      // asset whose lease we no longer hold (taken over after it expired, and maybe committed already); without
      // one, assets a worker holds a live lease on.
      const char* not_ours = lease_owner.empty()
                                 ? "lease_owner IS NOT NULL AND lease_owner <> $2 AND lease_expires_at > now()"
                                 : "lease_owner IS DISTINCT FROM $2";
      std::set<int64_t> taken_over;
      for (const auto& row : txn.exec_params(std::string("SELECT asset_id FROM facefill.scan_status WHERE asset_id = "
                                                         "ANY($1::int[]) AND ") +
                                                 not_ours + " ORDER BY asset_id FOR UPDATE",
                                             ArrayLiteral(ids), lease_owner)) {
        taken_over.insert(row[0].as<int64_t>());
      }
      json faces = json::array(), statuses = json::array();
      std::vector<std::string> removed;  // face ids no new face took, unlabelled when read
      for (const auto& o : outcomes) {
        if (taken_over.count(o.asset.id) != 0) continue;
        statuses.push_back(
            {{"asset_id", o.asset.id},
             {"status", ScanStateName(o.state)},
             {"face_count", o.face_count()},
             {"error_code", o.state == ScanState::kError ? json(StatusCodeName(o.error.code())) : json()},
             {"error_message", o.state == ScanState::kError ? json(o.error.message()) : json()}});
        if (o.state == ScanState::kError) continue;
        for (const auto& f : o.removed) removed.push_back(f.id);
        for (const auto& f : o.faces) {
          json j = {{"id", f.id},
                    {"point_id", f.point_id},
                    {"asset_id", f.asset_id},
                    {"bbox_x", f.bbox_x},
                    {"bbox_y", f.bbox_y},
                    {"bbox_w", f.bbox_w},
                    {"bbox_h", f.bbox_h},
                    {"landmarks", LandmarksJson(f.landmarks)},
                    {"detection_confidence", f.detection_confidence},
                    {"quality_score", f.quality_score}};
          if (writes_vectors_) j["embedding"] = f.embedding;
          faces.push_back(std::move(j));
        }
      }
      if (!removed.empty()) {
        // A face someone labelled since it was read is kept all the same: labels are a person's work.
        for (const auto& row : txn.exec_params(
                 std::string("DELETE FROM face_instances WHERE id = ANY($1::uuid[]) AND person_id IS NULL") +
                     (IsServiceDatabase() ? " AND cluster_id IS NULL" : "") +
                     " RETURNING COALESCE(qdrant_point_id, id)::text",
                 ArrayLiteral(removed))) {
          deleted.push_back(row[0].as<std::string>());
        }
        if (writes_vectors_ && !deleted.empty()) {
          txn.exec_params("DELETE FROM facefill.face_vectors WHERE face_id = ANY($1::uuid[])", ArrayLiteral(deleted));
        }
      }
      if (!faces.empty()) {
        // A matched face keeps its vector id, person and cluster: only what detection measures is updated.
        txn.exec_params(
            "INSERT INTO face_instances(id, asset_id, bbox_x, bbox_y, bbox_w, bbox_h, landmarks, detection_confidence, "
            "quality_score, qdrant_point_id, created_at, updated_at) SELECT x.id, x.asset_id, x.bbox_x, x.bbox_y, "
            "x.bbox_w, x.bbox_h, x.landmarks, x.detection_confidence, x.quality_score, x.point_id, now(), now() FROM "
            "json_to_recordset($1::json) AS x(id uuid, point_id uuid, asset_id int, bbox_x int, bbox_y int, bbox_w "
            "int, bbox_h int, landmarks json, detection_confidence float8, quality_score float8) ON CONFLICT (id) DO "
            "UPDATE SET bbox_x = excluded.bbox_x, bbox_y = excluded.bbox_y, bbox_w = excluded.bbox_w, bbox_h = "
            "excluded.bbox_h, landmarks = excluded.landmarks, detection_confidence = excluded.detection_confidence, "
            "quality_score = excluded.quality_score, updated_at = now()",
            faces.dump());
        if (writes_vectors_) {
          txn.exec_params(
              "INSERT INTO facefill.face_vectors(face_id, asset_id, embedding) SELECT x.point_id, x.asset_id, "
              "x.embedding::text::vector FROM json_to_recordset($1::json) AS x(point_id uuid, asset_id int, embedding "
              "json) ON CONFLICT (face_id) DO UPDATE SET asset_id = excluded.asset_id, embedding = excluded.embedding",
              faces.dump());
        }
      }
      if (!statuses.empty()) {
        txn.exec_params(
            "INSERT INTO facefill.scan_status(asset_id, status, face_count, model_id, scanned_at, error_code, "
            "error_message, scan_count) SELECT x.asset_id, x.status, x.face_count, $2, now(), x.error_code, "
            "x.error_message, 1 FROM json_to_recordset($1::json) AS x(asset_id int, status text, face_count int, "
            "error_code text, error_message text) ON CONFLICT (asset_id) DO UPDATE SET status = excluded.status, "
            "face_count = excluded.face_count, model_id = excluded.model_id, scanned_at = excluded.scanned_at, "
            "error_code = excluded.error_code, error_message = excluded.error_message, scan_count = "
            "facefill.scan_status.scan_count + 1, lease_owner = NULL, lease_expires_at = NULL",
            statuses.dump(), model_id);
      }
      return Status::Ok();
    });
    if (committed.ok() && deleted_point_ids != nullptr) *deleted_point_ids = std::move(deleted);
    return committed;
  }

  bool SupportsClaims() const override { return true; }

  Result<std::vector<AssetRecord>> Claim(const ClaimRequest& request) override {
    std::vector<AssetRecord> assets;
    auto claim = [&](pqxx::work& txn) {
      assets.clear();
      for (const auto& row : txn.exec_params(
               std::string("WITH claimed AS (UPDATE facefill.scan_status s SET lease_owner = $1, lease_expires_at = "
                           "now() + make_interval(secs => $2) WHERE s.asset_id IN (SELECT asset_id FROM "
                           "facefill.scan_status WHERE (status = 'pending' OR (status = 'error' AND scanned_at < "
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
        std::string("INSERT INTO facefill.scan_status(asset_id, status) SELECT a.id, 'pending' FROM image_assets a "
                    "WHERE NOT EXISTS (SELECT 1 FROM facefill.scan_status s WHERE s.asset_id = a.id) AND NOT ") +
        kHasFaces + " ON CONFLICT (asset_id) DO NOTHING"));
    FACEFILL_RETURN_IF_ERROR(session_->Transact([&](pqxx::work& txn) -> Status {
      claim(txn);
      return Status::Ok();
    }));
    return assets;
  }

  Status ReleaseLeases(const std::string& owner) override {
    return session_->Execute(
        "UPDATE facefill.scan_status SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = $1", owner);
  }

  Result<int64_t> CountLiveLeases() override {
    return session_->QueryInt(
        "SELECT COUNT(*) FROM facefill.scan_status WHERE status IN ('pending', 'error') AND lease_expires_at > now()");
  }

  Status RenewLeases(const std::string& owner, int lease_seconds) override {
    return session_->Execute(
        "UPDATE facefill.scan_status SET lease_expires_at = now() + make_interval(secs => $2) WHERE lease_owner = $1 "
        "AND status IN ('pending', 'error')",
        owner, lease_seconds);
  }

  Result<std::vector<LeaseHolder>> LiveLeases() override {
    return Rows(
        session_->Query("SELECT lease_owner, COUNT(*), EXTRACT(EPOCH FROM MAX(lease_expires_at))::BIGINT FROM "
                        "facefill.scan_status WHERE status IN ('pending', 'error') AND lease_expires_at > now() "
                        "GROUP BY lease_owner ORDER BY lease_owner"),
        +[](const pqxx::row& row) {
          return LeaseHolder{row[0].as<std::string>(), row[1].as<int64_t>(), row[2].as<int64_t>()};
        });
  }

  Result<std::vector<StoredFace>> FacesByPointIds(const std::vector<std::string>& point_ids) override {
    if (point_ids.empty()) return std::vector<StoredFace>{};
    return Rows(session_->Query(std::string("SELECT ") + kFaceColumns +
                                    " FROM face_instances f JOIN image_assets a ON a.id = f.asset_id "
                                    "WHERE f.qdrant_point_id = ANY($1::uuid[])",
                                ArrayLiteral(point_ids)),
                ReadFace);
  }

  // qdrant_point_id is NOT NULL and unique (so indexed) in the service's schema: each page is an index range, in
  // uuid order, which is the order of their lower-case text.
  Result<IdPage> ListPointIds(const std::string& cursor, int limit) override {
    auto ids = cursor.empty()
                   ? Rows(session_->Query("SELECT qdrant_point_id::text FROM face_instances ORDER BY qdrant_point_id "
                                          "LIMIT $1",
                                          limit),
                          FirstColumn<std::string>)
                   : Rows(session_->Query("SELECT qdrant_point_id::text FROM face_instances WHERE qdrant_point_id > "
                                          "$2::uuid ORDER BY qdrant_point_id LIMIT $1",
                                          limit, cursor),
                          FirstColumn<std::string>);
    if (!ids.ok()) return ids.status();
    return KeysetPage(std::move(ids).value(), limit);
  }

  Result<std::vector<StoredFace>> SampleFaces(int limit) override {
    return Rows(session_->Query(std::string("SELECT ") + kFaceColumns +
                                    " FROM face_instances f JOIN image_assets a ON a.id = f.asset_id "
                                    "WHERE f.landmarks IS NOT NULL ORDER BY f.id LIMIT $1",
                                limit),
                ReadFace);
  }

  Result<std::optional<std::string>> VectorModel(const std::string& store) override {
    auto rows = session_->Query("SELECT model_id FROM facefill.vector_models WHERE store = $1", store);
    if (!rows.ok()) return rows.status();
    if (rows->empty()) return std::optional<std::string>();
    return std::optional<std::string>((*rows)[0][0].as<std::string>());
  }

  Status RecordVectorModel(const std::string& store, const std::string& model_id, int dimension) override {
    return session_->Execute(
        "INSERT INTO facefill.vector_models(store, model_id, dimension) VALUES ($1, $2, $3) ON CONFLICT (store) DO "
        "UPDATE SET model_id = excluded.model_id, dimension = excluded.dimension, recorded_at = now()",
        store, model_id, dimension);
  }

  Result<std::vector<int64_t>> AssetsWithMissingFaces() override {
    return Rows(
        session_->Query("SELECT s.asset_id FROM facefill.scan_status s WHERE s.status IN ('done', 'no_faces') AND "
                        "s.face_count <> (SELECT COUNT(*) FROM face_instances f WHERE f.asset_id = s.asset_id) "
                        "ORDER BY s.asset_id"),
        FirstColumn<int64_t>);
  }

  Status MarkForRescan(const std::vector<int64_t>& asset_ids, const std::vector<std::string>& point_ids) override {
    return session_->Execute(
        "UPDATE facefill.scan_status SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL WHERE "
        "asset_id = ANY($1::int[]) OR asset_id IN (SELECT asset_id FROM face_instances WHERE qdrant_point_id = "
        "ANY($2::uuid[]))",
        ArrayLiteral(asset_ids), ArrayLiteral(point_ids));
  }

  Result<CatalogStats> Stats() override {
    CatalogStats stats;
    FACEFILL_RETURN_IF_ERROR(session_->Transact([&](pqxx::work& txn) -> Status {
      auto row = txn.exec1(
          "SELECT (SELECT COUNT(*) FROM image_assets), "
          "(SELECT COUNT(*) FROM facefill.scan_status WHERE status IN ('done', 'no_faces')), "
          "(SELECT COUNT(*) FROM facefill.scan_status WHERE status = 'no_faces'), "
          "(SELECT COUNT(*) FROM facefill.scan_status WHERE status = 'error'), "
          "(SELECT COUNT(*) FROM face_instances), "
          "(SELECT COUNT(*) FROM image_assets a WHERE " +
          std::string(kHasFaces) +
          " AND NOT EXISTS (SELECT 1 FROM facefill.scan_status s WHERE s.asset_id = a.id)), "
          "(SELECT COUNT(*) FROM facefill.rejected_files)");
      stats = CatalogStats{};
      stats.assets = row[0].as<int64_t>();
      stats.scanned_by_service = row[5].as<int64_t>();
      stats.scanned = row[1].as<int64_t>() + stats.scanned_by_service;
      stats.no_faces = row[2].as<int64_t>();
      stats.errors = row[3].as<int64_t>();
      stats.faces = row[4].as<int64_t>();
      stats.rejected_files = row[6].as<int64_t>();
      for (const auto& r :
           txn.exec("SELECT error_code, COUNT(*) FROM facefill.scan_status WHERE status = 'error' GROUP BY error_code "
                    "UNION ALL SELECT error_code, COUNT(*) FROM facefill.rejected_files GROUP BY error_code")) {
        stats.errors_by_reason[r[0].as<std::string>()] += r[1].as<int64_t>();
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
                        "FROM facefill.scan_status s JOIN image_assets a ON a.id = s.asset_id "
                        "WHERE s.status = 'error' ORDER BY s.scanned_at DESC, a.path LIMIT $1",
                        limit > 0 ? limit : std::numeric_limits<int64_t>::max()),
        +[](const pqxx::row& r) {
          return FailedAsset{r[0].as<int64_t>(), r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<std::string>(),
                             r[4].as<std::string>("")};
        });
  }

  Status AddLibraryRoot(const std::string& canonical_path) override {
    return session_->Execute("INSERT INTO facefill.library_roots(path) VALUES ($1) ON CONFLICT (path) DO NOTHING",
                             canonical_path);
  }

  Result<std::vector<std::string>> LibraryRoots() override {
    return Rows(session_->Query("SELECT path FROM facefill.library_roots ORDER BY path"), FirstColumn<std::string>);
  }

 private:
  std::unique_ptr<pg::Session> session_;
  CatalogOptions options_;
  PgvectorWrites pgvector_choice_;
  service::DatabaseKind kind_ = service::DatabaseKind::kStandalone;
  bool writes_vectors_ = false;  // pgvector_choice_ on this kind of database, decided by Migrate
  int path_limit_ = 0;           // image_assets.path's length in characters (0: unlimited)
};

}  // namespace

Result<std::unique_ptr<Catalog>> OpenPostgresCatalog(const std::string& url, const CatalogOptions& options,
                                                     PgvectorWrites pgvector) {
  auto session = pg::Session::Open(url);
  if (!session.ok()) return session.status();
  auto catalog = std::make_unique<PostgresCatalog>(std::move(session).value(), options, pgvector);
  FACEFILL_RETURN_IF_ERROR(catalog->Migrate());
  return std::unique_ptr<Catalog>(std::move(catalog));
}

}  // namespace facefill
