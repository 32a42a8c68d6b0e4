// Vector stores: one vector per face, id = face id (local SQLite table; Qdrant and pgvector at scale).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "facefill/records.h"
#include "facefill/status.h"

namespace facefill {

struct VectorMatch {
  std::string point_id;  // the vector's id: face_instances.qdrant_point_id
  int64_t asset_id = 0;
  float similarity = 0;  // cosine
};

// Thread-safe. Vectors are keyed by point id (FaceRecord::point_id, face_instances.qdrant_point_id).
class VectorStore {
 public:
  virtual ~VectorStore() = default;
  // Makes the store ready for vectors of `dimension` (creating it when missing) before any work starts; a store
  // that holds vectors of another size is refused with kInvalidArgument.
  virtual Status Prepare(int dimension) = 0;
  // Writes these faces' points whole (vector and payload); durable when it returns.
  virtual Status Upsert(const std::vector<const FaceRecord*>& faces) = 0;
  // Replaces the vectors of points that exist already (faces a re-scan matched), keeping every payload field that
  // the image-search service owns (person_id, cluster_id, is_prototype, is_assigned); a point that turns out to be
  // missing is written whole.
  virtual Status UpdateVectors(const std::vector<const FaceRecord*>& faces) = 0;
  virtual Status Delete(const std::vector<std::string>& point_ids) = 0;
  // The stored vectors of these points (absent ones are left out).
  virtual Result<std::map<std::string, Embedding>> Fetch(const std::vector<std::string>& point_ids) = 0;
  // The k most similar vectors with similarity >= min_similarity, best first.
  virtual Result<std::vector<VectorMatch>> Search(const Embedding& query, int top_k, float min_similarity) = 0;
  // Every id in ascending byte order, at most `limit` a page: start with the cursor "", then pass each page's
  // `next` until it is empty. Memory holds one page, however large the store.
  virtual Result<IdPage> ListIds(const std::string& cursor, int limit) = 0;
  // Every id, sorted (every page at once).
  virtual Result<std::vector<std::string>> AllIds();
  virtual Result<int64_t> Count() = 0;
  virtual std::string Describe() const = 0;
  // Sets the image-search service's `cluster_id` payload field of these points (point id, cluster id; an empty
  // cluster id is written as null, which the service reads as none) through set-payload, nothing else of their
  // payload changing; points missing from the store are left out. Stores without a payload do nothing.
  virtual Status SetClusterIds(const std::vector<std::pair<std::string, std::string>>& point_clusters);
  // True when the catalog writes these vectors in its own transaction (pgvector): the backfill then leaves
  // Upsert, UpdateVectors and Delete to the catalog's commit.
  virtual bool WrittenByCatalog() const { return false; }
};

// Opens a vector store by URL:
//   "" or "local"                 the SQLite catalog's own file (exact search)
//   "pgvector"                    the PostgreSQL catalog's database (HNSW cosine index); never the default
//   "qdrant://HOST:PORT/COLL"     Qdrant over HTTP ("qdrants://" for HTTPS); API key from FACEFILL_QDRANT_API_KEY or
//                                 the file named by FACEFILL_QDRANT_API_KEY_FILE. "http(s)://HOST:PORT" (the
//                                 service's QDRANT_URL form) is accepted too, with the collection "faces".
Result<std::unique_ptr<VectorStore>> OpenVectorStore(const std::string& url, const std::string& catalog_url);

// True when `url` (with this catalog) means pgvector, whose vectors the catalog itself writes (see OpenStores).
bool UsesPgvector(const std::string& url, const std::string& catalog_url);

}  // namespace facefill
