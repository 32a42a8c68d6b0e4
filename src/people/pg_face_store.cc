// The PostgreSQL FaceStore: faces from the image-search service's face_instances (read in keyset pages), their
// vectors from the catalog's vector store (the service's Qdrant collection, or pgvector), an HNSW index built in
// memory for each full run, cluster ids written to face_instances.cluster_id in batched transactions and, with
// Qdrant, to the points' `cluster_id` payload through set-payload. facefill's clustering state is the table
// facefill.people_state, in facefill's own schema.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "../catalog/pg_session.h"
#include "face_store.h"
#include "facefill/service_settings.h"
#include "facefill/stores.h"

namespace facefill::people {
namespace {

using nlohmann::json;

constexpr int kPageRows = 2000;   // face rows read per query, and their vectors per fetch
constexpr int kWriteRows = 1000;  // cluster ids written per transaction (and set-payload round)

// The gate on face_instances f, with the size as $1 and the score as $2. The service's noise marker "-1" (faces a
// person dismissed, or its discovery job left as noise: "keep out of clustering") is left as it is.
constexpr char kPassesGate[] =
    "(f.person_id IS NOT NULL OR (LEAST(f.bbox_w, f.bbox_h) >= $1 AND f.detection_confidence >= $2))";
constexpr char kNotServiceNoise[] = "f.cluster_id IS DISTINCT FROM '-1'";
// When a face was added, in microseconds: the order incremental assignment goes by.
constexpr char kFaceRow[] = "(EXTRACT(EPOCH FROM f.created_at) * 1000000)::BIGINT";
constexpr char kClusterFaceColumns[] =
    "f.id::text, f.qdrant_point_id::text, (EXTRACT(EPOCH FROM f.created_at) * 1000000)::BIGINT, f.asset_id, "
    "COALESCE(f.cluster_id, ''), COALESCE(f.person_id::text, '')";

ClusterFace ReadClusterFace(const pqxx::row& row) {
  ClusterFace f;
  f.id = row[0].as<std::string>();
  f.point_id = row[1].as<std::string>();
  f.face_row = row[2].as<int64_t>();
  f.asset_id = row[3].as<int64_t>();
  f.cluster_id = row[4].as<std::string>();
  f.person_id = row[5].as<std::string>();
  return f;
}

class PostgresFaceStore final : public FaceStore {
 public:
  PostgresFaceStore(Stores stores, std::unique_ptr<pg::Session> session)
      : stores_(std::move(stores)), session_(std::move(session)) {}

  Status Migrate() {
    return session_->Transact([](pqxx::work& txn) -> Status {
      txn.exec("SELECT pg_advisory_xact_lock(hashtext('facefill_people_state'))");
      txn.exec(
          "CREATE TABLE IF NOT EXISTS facefill.people_state (key TEXT PRIMARY KEY, value BIGINT NOT NULL, updated_at "
          "TIMESTAMPTZ NOT NULL DEFAULT now())");
      return Status::Ok();
    });
  }

  // Keyset pages in face id order; each page's vectors fetched from the vector store by point id. Faces whose point
  // is missing are left out, as the embedded catalog leaves out faces without a vector row.
  Result<std::vector<ClusterFace>> LoadFaces(VectorMatrix* vectors, const FaceGate& gate, int64_t after_face_row,
                                             bool only_unassigned) override {
    const std::string where = std::string(kPassesGate) + " AND " + kNotServiceNoise + " AND " + kFaceRow + " > $3" +
                              (only_unassigned ? " AND f.cluster_id IS NULL AND f.person_id IS NULL" : "");
    std::vector<ClusterFace> faces;
    if (vectors) {
      vectors->values.clear();
      vectors->dimension = 0;
    }
    std::string cursor;
    for (;;) {
      auto page = pg::Rows(
          cursor.empty()
              ? session_->Query(std::string("SELECT ") + kClusterFaceColumns + " FROM face_instances f WHERE " + where +
                                    " ORDER BY f.id LIMIT $4",
                                gate.min_face_size, gate.min_detection_score, after_face_row, kPageRows)
              : session_->Query(std::string("SELECT ") + kClusterFaceColumns + " FROM face_instances f WHERE " + where +
                                    " AND f.id > $5::uuid ORDER BY f.id LIMIT $4",
                                gate.min_face_size, gate.min_detection_score, after_face_row, kPageRows, cursor),
          ReadClusterFace);
      if (!page.ok()) return page.status();
      if (page->empty()) break;
      cursor = page->back().id;
      std::vector<std::string> point_ids;
      for (const auto& f : *page) point_ids.push_back(f.point_id);
      auto found = stores_.vectors->Fetch(point_ids);
      if (!found.ok()) return found.status();
      for (auto& f : *page) {
        auto v = found->find(f.point_id);
        if (v == found->end() || v->second.empty()) continue;
        if (vectors) {
          if (vectors->dimension == 0) vectors->dimension = static_cast<int>(v->second.size());
          if (static_cast<int>(v->second.size()) != vectors->dimension) {
            return Status(StatusCode::kInvalidArgument,
                          "face vectors of more than one dimension in " + stores_.vectors->Describe());
          }
          vectors->values.insert(vectors->values.end(), v->second.begin(), v->second.end());
        }
        f.vector_row = static_cast<int64_t>(faces.size());
        faces.push_back(std::move(f));
      }
      if (static_cast<int>(page->size()) < kPageRows) break;
    }
    return faces;
  }

  bool IndexNeedsVectors() const override { return true; }

  // Built in memory from the vectors LoadFaces read, which it then frees: the run reads every vector anyway, and an
  // index kept on this machine would go stale without notice when the service changes faces.
  Result<std::unique_ptr<FaceIndex>> OpenIndex(const std::vector<ClusterFace>& faces, VectorMatrix* vectors,
                                               const FaceIndexOptions& options) override {
    std::vector<int64_t> labels;
    labels.reserve(faces.size());
    for (const auto& f : faces) labels.push_back(f.vector_row);
    auto index = FaceIndex::InMemory(*vectors, labels, options);
    *vectors = VectorMatrix{};
    return index;
  }

  // The vector store's own search (Qdrant's HNSW, or pgvector's), then the faces of the points found.
  Result<std::vector<ClusterFace>> NearestFaces(std::span<const float> vector, int k, float min_similarity,
                                                const FaceIndexOptions&) override {
    auto found = stores_.vectors->Search(Embedding(vector.begin(), vector.end()), k, min_similarity);
    if (!found.ok()) return found.status();
    if (found->empty()) return std::vector<ClusterFace>{};
    std::vector<std::string> point_ids;
    for (const auto& m : *found) point_ids.push_back(m.point_id);
    return pg::Rows(session_->Query(std::string("SELECT ") + kClusterFaceColumns +
                                        " FROM face_instances f WHERE f.qdrant_point_id = ANY($1::uuid[])",
                                    pg::ArrayLiteral(point_ids)),
                    ReadClusterFace);
  }

  Result<int64_t> ClearClustersBelowGate(const FaceGate& gate) override {
    auto below = pg::Rows(
        session_->Query(std::string("SELECT f.id::text, f.qdrant_point_id::text FROM face_instances f WHERE "
                                    "f.cluster_id IS NOT NULL AND ") +
                            kNotServiceNoise + " AND NOT " + kPassesGate,
                        gate.min_face_size, gate.min_detection_score),
        +[](const pqxx::row& row) {
          return ClusterChange{row[0].as<std::string>(), std::string(), row[1].as<std::string>()};
        });
    if (!below.ok()) return below.status();
    FACEFILL_RETURN_IF_ERROR(WriteClusterIds(*below));
    return static_cast<int64_t>(below->size());
  }

  Result<int64_t> CountFaces(const FaceGate& gate) override {
    return session_->QueryInt(
        std::string("SELECT COUNT(*) FROM face_instances f WHERE ") + kPassesGate + " AND " + kNotServiceNoise,
        gate.min_face_size, gate.min_detection_score);
  }

  // kWriteRows at a time: the points' payload first, then the rows in one transaction. Should the transaction fail
  // after the payload was set, the rows still hold the old ids, so the next run writes both again.
  Status WriteClusterIds(const std::vector<ClusterChange>& changes) override {
    for (size_t start = 0; start < changes.size(); start += kWriteRows) {
      const size_t end = std::min(changes.size(), start + kWriteRows);
      std::vector<std::pair<std::string, std::string>> points;
      json rows = json::array();
      for (size_t i = start; i < end; ++i) {
        const auto& c = changes[i];
        points.emplace_back(c.point_id, c.cluster_id);
        rows.push_back({{"id", c.face_id}, {"cluster_id", c.cluster_id.empty() ? json() : json(c.cluster_id)}});
      }
      FACEFILL_RETURN_IF_ERROR(stores_.vectors->SetClusterIds(points));
      FACEFILL_RETURN_IF_ERROR(session_->Transact([&](pqxx::work& txn) -> Status {
        txn.exec_params(
            "UPDATE face_instances f SET cluster_id = x.cluster_id, updated_at = now() FROM "
            "json_to_recordset($1::json) "
            "AS x(id uuid, cluster_id text) WHERE f.id = x.id AND f.cluster_id IS DISTINCT FROM x.cluster_id",
            rows.dump());
        return Status::Ok();
      }));
    }
    return Status::Ok();
  }

  Result<int64_t> State(const std::string& key) override {
    auto rows = session_->Query("SELECT value FROM facefill.people_state WHERE key = $1", key);
    if (!rows.ok()) return rows.status();
    return rows->empty() ? int64_t{0} : (*rows)[0][0].as<int64_t>();
  }

  Status SetState(const std::string& key, int64_t value) override {
    return session_->Execute(
        "INSERT INTO facefill.people_state(key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = "
        "excluded.value, updated_at = now()",
        key, value);
  }

  Result<std::vector<PeopleCluster>> ListClusters(int64_t limit) override {
    return pg::Rows(
        session_->Query(
            "WITH ranked AS (SELECT f.cluster_id, f.id, ROW_NUMBER() OVER (PARTITION BY f.cluster_id ORDER BY "
            "COALESCE(f.quality_score, 0) DESC, f.detection_confidence DESC, f.bbox_w * f.bbox_h DESC, f.id) AS rank, "
            "COUNT(*) OVER (PARTITION BY f.cluster_id) AS faces FROM face_instances f WHERE f.cluster_id IS NOT NULL "
            "AND " +
            std::string(kNotServiceNoise) +
            ") SELECT r.cluster_id, r.faces, (SELECT COUNT(DISTINCT g.asset_id) FROM face_instances g WHERE "
            "g.cluster_id = r.cluster_id), f.id::text, a.path, f.bbox_x, f.bbox_y, f.bbox_w, f.bbox_h FROM ranked r "
            "JOIN face_instances f ON f.id = r.id JOIN image_assets a ON a.id = f.asset_id WHERE r.rank = 1 ORDER BY "
            "r.faces DESC, r.cluster_id COLLATE \"C\"" +
            (limit > 0 ? " LIMIT " + std::to_string(limit) : std::string())),
        +[](const pqxx::row& row) {
          PeopleCluster c;
          c.cluster_id = row[0].as<std::string>();
          c.faces = row[1].as<int64_t>();
          c.photos = row[2].as<int64_t>();
          c.face_id = row[3].as<std::string>();
          c.path = row[4].as<std::string>();
          c.bbox_x = row[5].as<int>();
          c.bbox_y = row[6].as<int>();
          c.bbox_w = row[7].as<int>();
          c.bbox_h = row[8].as<int>();
          return c;
        });
  }

  Result<std::vector<ClusterPerson>> PersonsInClusters() override {
    return pg::Rows(
        session_->Query(std::string("SELECT f.cluster_id, f.person_id::text, COALESCE(p.name, ''), COUNT(*) FROM "
                                    "face_instances f LEFT JOIN persons p ON p.id = f.person_id WHERE f.cluster_id IS "
                                    "NOT NULL AND f.person_id IS NOT NULL AND ") +
                        kNotServiceNoise + " GROUP BY 1, 2, 3 ORDER BY 1, 2"),
        +[](const pqxx::row& row) {
          return ClusterPerson{row[0].as<std::string>(), row[1].as<std::string>(), row[2].as<std::string>(),
                               row[3].as<int64_t>()};
        });
  }

 private:
  Stores stores_;  // the catalog (opened, so migrated) and the vector store it uses
  std::unique_ptr<pg::Session> session_;
};

}  // namespace

Result<std::unique_ptr<FaceStore>> OpenPostgresFaceStore(const std::string& catalog_url,
                                                         const std::string& vectors_url) {
  auto stores = OpenStores(catalog_url, vectors_url);
  if (!stores.ok()) return stores.status();
  auto session = pg::Session::Open(LibpqUrl(catalog_url));
  if (!session.ok()) return session.status();
  auto store = std::make_unique<PostgresFaceStore>(std::move(stores).value(), std::move(session).value());
  FACEFILL_RETURN_IF_ERROR(store->Migrate());
  return std::unique_ptr<FaceStore>(std::move(store));
}

}  // namespace facefill::people
