// Vector stores: one vector per face, id = face id (local SQLite table; Qdrant and pgvector at scale).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "facefill/records.h"
#include "facefill/status.h"

namespace facefill {

struct VectorMatch {
  std::string face_id;
  int64_t asset_id = 0;
  float similarity = 0;  // cosine
};

// Thread-safe.
class VectorStore {
 public:
  virtual ~VectorStore() = default;
  // Inserts or overwrites the vectors of these faces (id = face id); durable when it returns.
  virtual Status Upsert(const std::vector<const FaceRecord*>& faces) = 0;
  virtual Status Delete(const std::vector<std::string>& face_ids) = 0;
  // The k most similar vectors with similarity >= min_similarity, best first.
  virtual Result<std::vector<VectorMatch>> Search(const Embedding& query, int top_k, float min_similarity) = 0;
  virtual Result<std::vector<std::string>> AllIds() = 0;
  virtual Result<int64_t> Count() = 0;
  virtual std::string Describe() const = 0;
};

// Opens a vector store by URL:
//   "" or "local"                 the catalog's own database: SQLite (exact search) or, for PostgreSQL, pgvector
//   "pgvector"                    the PostgreSQL catalog's database (HNSW cosine index)
//   "qdrant://HOST:PORT/COLL"     Qdrant over HTTP ("qdrants://" for HTTPS); API key from FACEFILL_QDRANT_API_KEY or
//                                 the file named by FACEFILL_QDRANT_API_KEY_FILE
Result<std::unique_ptr<VectorStore>> OpenVectorStore(const std::string& url, const std::string& catalog_url);

// True when `url` (with this catalog) means pgvector, which the catalog itself must write (CatalogOptions::pgvector).
bool UsesPgvector(const std::string& url, const std::string& catalog_url);

}  // namespace facefill
