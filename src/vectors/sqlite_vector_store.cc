// The embedded vector store: float32 blobs keyed by point id (the face's qdrant_point_id) in the catalog's own
// SQLite file, exact cosine search (vectors are L2-normalised, so cosine is the dot product).
#include <algorithm>
#include <queue>

#include "../sqlite/sqlite_db.h"
#include "../sqlite/sqlite_id_page.h"
#include "../sqlite/sqlite_url.h"
#include "exact_similarity.h"
#include "vector_backends.h"

namespace facefill {
namespace {

using sqlite::Database;

class SqliteVectorStore final : public VectorStore {
 public:
  explicit SqliteVectorStore(std::unique_ptr<Database> db) : db_(std::move(db)) {}

  Status Prepare(int dimension) override {
    std::lock_guard lock(db_->mutex());
    auto stmt = db_->Prepare("SELECT length(embedding) / 4 FROM facefill_face_vectors LIMIT 1");
    if (!stmt.ok()) return stmt.status();
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    if (*row && stmt->Int(0) != dimension) {
      return Status(StatusCode::kInvalidArgument, "the local vectors in " + db_->path() + " are " +
                                                      std::to_string(stmt->Int(0)) + "-d but the model gives " +
                                                      std::to_string(dimension) + "-d ones");
    }
    return Status::Ok();
  }

  // Local points have no payload to keep: an update is an upsert.
  Status UpdateVectors(const std::vector<const FaceRecord*>& faces) override { return Upsert(faces); }

  Result<std::map<std::string, Embedding>> Fetch(const std::vector<std::string>& point_ids) override {
    std::lock_guard lock(db_->mutex());
    std::map<std::string, Embedding> vectors;
    auto stmt = db_->Prepare("SELECT embedding FROM facefill_face_vectors WHERE face_id = ?");
    if (!stmt.ok()) return stmt.status();
    for (const auto& id : point_ids) {
      stmt->Bind(1, id);
      auto row = stmt->Step();
      if (!row.ok()) return row.status();
      if (*row) {
        auto v = stmt->Floats(0);
        vectors[id] = Embedding(v.begin(), v.end());
      }
      stmt->Reset();
    }
    return vectors;
  }

  Status Upsert(const std::vector<const FaceRecord*>& faces) override {
    if (faces.empty()) return Status::Ok();
    std::lock_guard lock(db_->mutex());
    return db_->Transaction([&]() -> Status {
      auto stmt = db_->Prepare(
          "INSERT INTO facefill_face_vectors(face_id, asset_id, embedding) VALUES (?, ?, ?) "
          "ON CONFLICT(face_id) DO UPDATE SET asset_id = excluded.asset_id, embedding = excluded.embedding");
      if (!stmt.ok()) return stmt.status();
      for (const FaceRecord* f : faces) {
        stmt->Bind(1, f->point_id).Bind(2, f->asset_id).Bind(3, std::span<const float>(f->embedding));
        FACEFILL_RETURN_IF_ERROR(stmt->Run());
      }
      return Status::Ok();
    });
  }

  Status Delete(const std::vector<std::string>& face_ids) override {
    if (face_ids.empty()) return Status::Ok();
    std::lock_guard lock(db_->mutex());
    return db_->Transaction([&]() -> Status {
      auto stmt = db_->Prepare("DELETE FROM facefill_face_vectors WHERE face_id = ?");
      if (!stmt.ok()) return stmt.status();
      for (const auto& id : face_ids) FACEFILL_RETURN_IF_ERROR(stmt->Bind(1, id).Run());
      return Status::Ok();
    });
  }

  Result<std::vector<VectorMatch>> Search(const Embedding& query, int top_k, float min_similarity) override {
    std::lock_guard lock(db_->mutex());
    auto stmt = db_->Prepare("SELECT face_id, asset_id, embedding FROM facefill_face_vectors");
    if (!stmt.ok()) return stmt.status();
    auto worse = [](const VectorMatch& a, const VectorMatch& b) { return a.similarity > b.similarity; };
    std::priority_queue<VectorMatch, std::vector<VectorMatch>, decltype(worse)> best(worse);
    FACEFILL_RETURN_IF_ERROR(stmt->ForEachRow([&] {
      auto v = stmt->Floats(2);
      if (v.size() != query.size()) return;
      const float dot = ExactSimilarity(v, query);
      if (dot < min_similarity) return;
      if (static_cast<int>(best.size()) < top_k) {
        best.push({stmt->Text(0), stmt->Int(1), dot});
      } else if (top_k > 0 && dot > best.top().similarity) {
        best.pop();
        best.push({stmt->Text(0), stmt->Int(1), dot});
      }
    }));
    std::vector<VectorMatch> matches;
    for (; !best.empty(); best.pop()) matches.push_back(best.top());
    std::reverse(matches.begin(), matches.end());
    return matches;
  }

  Result<IdPage> ListIds(const std::string& cursor, int limit) override {
    std::lock_guard lock(db_->mutex());
    return sqlite::ReadIdPage(*db_, "facefill_face_vectors", "face_id", cursor, limit);
  }

  Result<int64_t> Count() override {
    std::lock_guard lock(db_->mutex());
    auto stmt = db_->Prepare("SELECT COUNT(*) FROM facefill_face_vectors");
    if (!stmt.ok()) return stmt.status();
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    return stmt->Int(0);
  }

  std::string Describe() const override { return "local vectors in " + db_->path(); }

 private:
  std::unique_ptr<Database> db_;
};

}  // namespace

Result<std::unique_ptr<VectorStore>> OpenSqliteVectorStore(const std::string& catalog_url) {
  auto db = Database::Open(SqlitePathFromUrl(catalog_url));
  if (!db.ok()) return db.status();
  return std::unique_ptr<VectorStore>(new SqliteVectorStore(std::move(db).value()));
}

}  // namespace facefill
