// pgvector: the face vectors in the PostgreSQL catalog's own database (facefill.face_vectors, HNSW cosine index),
// created on first use with the model's dimension. The catalog writes them in the same transaction as the face rows
// (Catalog::WritesVectors, set up by OpenStores), so this store says it is written by the catalog and refuses upserts
// of its own.
#include <nlohmann/json.hpp>

#include "../catalog/pg_session.h"
#include "../core/id_pages.h"
#include "vector_backends.h"

namespace facefill {
namespace {

class PgvectorStore final : public VectorStore {
 public:
  explicit PgvectorStore(std::unique_ptr<pg::Session> session) : session_(std::move(session)) {}

  Status Prepare(int dimension) override {
    return session_->Transact([&](pqxx::work& txn) -> Status {
      txn.exec("SELECT pg_advisory_xact_lock(hashtext('facefill_pgvector'))");
      txn.exec("CREATE EXTENSION IF NOT EXISTS vector");
      txn.exec("CREATE SCHEMA IF NOT EXISTS facefill");
      auto existing = txn.exec(
          "SELECT atttypmod FROM pg_attribute WHERE attrelid = to_regclass('facefill.face_vectors') AND attname = "
          "'embedding'");
      if (!existing.empty()) {
        const int stored = existing[0][0].as<int>();
        if (stored != dimension) {
          return Status(StatusCode::kInvalidArgument,
                        "the pgvector table facefill.face_vectors holds " + std::to_string(stored) +
                            "-d vectors but the model gives " + std::to_string(dimension) +
                            "-d ones: use the model that wrote them, or another database");
        }
        return Status::Ok();
      }
      txn.exec(
          "CREATE TABLE facefill.face_vectors (face_id UUID PRIMARY KEY, asset_id INTEGER NOT NULL, "
          "embedding vector(" +
          std::to_string(dimension) + ") NOT NULL)");
      txn.exec("CREATE INDEX face_vectors_hnsw ON facefill.face_vectors USING hnsw (embedding vector_cosine_ops)");
      return Status::Ok();
    });
  }

  bool WrittenByCatalog() const override { return true; }
  Status Upsert(const std::vector<const FaceRecord*>& faces) override { return WrittenElsewhere(faces.empty()); }
  Status UpdateVectors(const std::vector<const FaceRecord*>& faces) override { return WrittenElsewhere(faces.empty()); }
  // The catalog deletes the vectors of the face rows it deletes; this removes others (`check --fix`).
  Status Delete(const std::vector<std::string>& ids) override {
    if (ids.empty()) return Status::Ok();
    auto exists = Exists();
    if (!exists.ok()) return exists.status();
    if (!*exists) return Status::Ok();
    return session_->Execute("DELETE FROM facefill.face_vectors WHERE face_id = ANY($1::uuid[])",
                             pg::ArrayLiteral(ids));
  }

  Result<std::map<std::string, Embedding>> Fetch(const std::vector<std::string>& point_ids) override {
    std::map<std::string, Embedding> vectors;
    if (point_ids.empty()) return vectors;
    auto exists = Exists();
    if (!exists.ok()) return exists.status();
    if (!*exists) return vectors;
    auto rows = session_->Query(
        "SELECT face_id::text, embedding::text FROM facefill.face_vectors WHERE face_id = ANY($1::uuid[])",
        pg::ArrayLiteral(point_ids));
    if (!rows.ok()) return rows.status();
    for (const auto& row : *rows) {
      // pgvector's text form is a JSON array: "[0.1,0.2,...]".
      auto parsed = nlohmann::json::parse(row[1].as<std::string>(), nullptr, false);
      if (parsed.is_array()) vectors[row[0].as<std::string>()] = parsed.get<Embedding>();
    }
    return vectors;
  }

  Result<std::vector<VectorMatch>> Search(const Embedding& query, int top_k, float min_similarity) override {
    std::vector<VectorMatch> matches;
    auto exists = Exists();
    if (!exists.ok()) return exists.status();
    if (top_k <= 0 || !*exists) return matches;
    // Ordered by distance alone so the HNSW index serves it; the similarity floor is applied afterwards.
    auto rows = session_->Query(
        "SELECT face_id::text, asset_id, 1 - (embedding <=> $1::vector) FROM facefill.face_vectors "
        "ORDER BY embedding <=> $1::vector LIMIT $2",
        nlohmann::json(query).dump(), top_k);
    if (!rows.ok()) return rows.status();
    for (const auto& row : *rows) {
      VectorMatch m{row[0].as<std::string>(), row[1].as<int64_t>(), row[2].as<float>()};
      if (m.similarity >= min_similarity) matches.push_back(std::move(m));
    }
    return matches;
  }

  // Pages of the primary key, in uuid order (the order of their lower-case text).
  Result<IdPage> ListIds(const std::string& cursor, int limit) override {
    auto exists = Exists();
    if (!exists.ok()) return exists.status();
    if (!*exists) return IdPage{};
    auto ids =
        cursor.empty()
            ? pg::Rows(
                  session_->Query("SELECT face_id::text FROM facefill.face_vectors ORDER BY face_id LIMIT $1", limit),
                  pg::FirstColumn<std::string>)
            : pg::Rows(session_->Query("SELECT face_id::text FROM facefill.face_vectors WHERE face_id > $2::uuid "
                                       "ORDER BY face_id LIMIT $1",
                                       limit, cursor),
                       pg::FirstColumn<std::string>);
    if (!ids.ok()) return ids.status();
    return KeysetPage(std::move(ids).value(), limit);
  }

  Result<int64_t> Count() override {
    auto exists = Exists();
    if (!exists.ok()) return exists.status();
    if (!*exists) return int64_t{0};
    return session_->QueryInt("SELECT COUNT(*) FROM facefill.face_vectors");
  }

  std::string Describe() const override { return "pgvector in " + session_->redacted_url(); }

 private:
  static Status WrittenElsewhere(bool nothing) {
    if (nothing) return Status::Ok();
    return Status(StatusCode::kInternal, "pgvector vectors are written by the catalog's commit, not by the store");
  }

  // The table appears with the first Prepare; before that the store is empty.
  Result<bool> Exists() {
    auto rows = session_->Query("SELECT to_regclass('facefill.face_vectors') IS NOT NULL");
    if (!rows.ok()) return rows.status();
    return (*rows)[0][0].as<bool>();
  }

  std::unique_ptr<pg::Session> session_;
};

}  // namespace

Result<std::unique_ptr<VectorStore>> OpenPgvectorStore(const std::string& catalog_url) {
  auto session = pg::Session::Open(catalog_url);
  if (!session.ok()) return session.status();
  return std::unique_ptr<VectorStore>(new PgvectorStore(std::move(session).value()));
}

}  // namespace facefill
