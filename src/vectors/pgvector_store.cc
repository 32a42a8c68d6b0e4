// pgvector: the face vectors in the PostgreSQL catalog's own database (facefill_face_vectors, HNSW cosine index).
// The catalog writes them in the same transaction as the face rows (CatalogOptions::pgvector), and they go with
// their face row (ON DELETE CASCADE), so Upsert and Delete have nothing left to do: one system, no orphans.
#include <nlohmann/json.hpp>

#include "../catalog/pg_session.h"
#include "vector_backends.h"

namespace facefill {
namespace {

class PgvectorStore final : public VectorStore {
 public:
  explicit PgvectorStore(std::unique_ptr<pg::Session> session) : session_(std::move(session)) {}

  Status Upsert(const std::vector<const FaceRecord*>&) override { return Status::Ok(); }
  Status Delete(const std::vector<std::string>&) override { return Status::Ok(); }

  Result<std::vector<VectorMatch>> Search(const Embedding& query, int top_k, float min_similarity) override {
    std::vector<VectorMatch> matches;
    if (top_k <= 0) return matches;
    // Ordered by distance alone so the HNSW index serves it; the similarity floor is applied afterwards.
    auto rows = session_->Query(
        "SELECT face_id::text, asset_id, 1 - (embedding <=> $1::vector) FROM facefill_face_vectors "
        "ORDER BY embedding <=> $1::vector LIMIT $2",
        nlohmann::json(query).dump(), top_k);
    if (!rows.ok()) return rows.status();
    for (const auto& row : *rows) {
      VectorMatch m{row[0].as<std::string>(), row[1].as<int64_t>(), row[2].as<float>()};
      if (m.similarity >= min_similarity) matches.push_back(std::move(m));
    }
    return matches;
  }

  Result<std::vector<std::string>> AllIds() override {
    return pg::Rows(session_->Query("SELECT face_id::text FROM facefill_face_vectors ORDER BY face_id"),
                    pg::FirstColumn<std::string>);
  }

  Result<int64_t> Count() override { return session_->QueryInt("SELECT COUNT(*) FROM facefill_face_vectors"); }

  std::string Describe() const override { return "pgvector in " + session_->redacted_url(); }

 private:
  std::unique_ptr<pg::Session> session_;
};

}  // namespace

Result<std::unique_ptr<VectorStore>> OpenPgvectorStore(const std::string& catalog_url) {
  auto session = pg::Session::Open(catalog_url);
  if (!session.ok()) return session.status();
  return std::unique_ptr<VectorStore>(new PgvectorStore(std::move(session).value()));
}

}  // namespace facefill
