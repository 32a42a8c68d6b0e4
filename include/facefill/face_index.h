// The approximate-nearest-neighbour index (HNSW, cosine) over the embedded catalog's face vectors, kept beside the
// SQLite file; exact search stays the fallback and the recall oracle.
//
//   auto index = FaceIndex::Open("sqlite:facefill.db");   // builds, or adds what the catalog gained since
//   auto hits = (*index)->Search(query_embedding, 10, 0.0f);
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "facefill/hdbscan.h"
#include "facefill/status.h"
#include "facefill/vector_store.h"

namespace facefill {

struct FaceIndexOptions {
  // HNSW M: links per node (memory, build time and recall grow with it), and the candidate list while inserting.
  // M 32 with 200 against M 16 with 100, synthetic faces on 2 cores (quiet): at 100,000 the build takes 35 s
  // instead of 14 s and recall@10 at ef 768 is 0.997 instead of 0.9935; at 1,000,000 recall levels off at 0.96-0.97
  // with M 16 and reaches 0.9875 at ef 768 (0.99 at 1024) with M 32, built in 15 min.
  int max_connections = 32;
  int ef_construction = 200;
  // Candidate list while searching, at least top_k (latency and recall grow with it). 768: recall@10 0.997 at
  // 100,000 synthetic faces (median 2.8 ms) and 0.9875 at 1,000,000 (8.0 ms) against exact search.
  int ef_search = 768;
  int threads = 2;   // insertion threads when building or catching up
  bool save = true;  // write the index back beside the catalog after it changed
  // An open that added or deleted fewer than this share of the index's vectors (and did not rebuild it) leaves the
  // file as it was: the next open adds them again from the catalog, which costs far less than rewriting the whole
  // file (1.3 GB at a million faces) after every small backfill. 0: save after every change.
  double save_share = 0.005;
  Status Validate() const;
};

// What opening did to bring the index up to date with the catalog.
struct FaceIndexUpdate {
  bool rebuilt = false;  // the file was missing, unreadable or built for other vectors
  int64_t added = 0;     // vectors inserted
  int64_t deleted = 0;   // vectors gone from the catalog, marked deleted in the index
  double seconds = 0;
};

// One neighbour in the index: the vector's row in the catalog's vector table and its cosine similarity.
struct IndexNeighbor {
  int64_t vector_row = 0;
  float similarity = 0;
};

// Thread-safe for concurrent searches once opened.
class FaceIndex {
 public:
  virtual ~FaceIndex() = default;

  // Opens the index of the SQLite catalog at `catalog_url` (files PATH.hnsw and PATH.hnsw.json): loads it, rebuilds
  // it when missing or stale (other dimension or model, unreadable), marks vectors deleted since as deleted, adds
  // vectors stored since, and saves it when it changed.
  static Result<std::unique_ptr<FaceIndex>> Open(const std::string& catalog_url, const FaceIndexOptions& options = {});

  // An index held in memory only, of `vectors` (L2-normalised; row i labelled labels[i]), for a catalog whose vectors
  // live elsewhere (PostgreSQL with Qdrant or pgvector): built for one clustering run. Search is refused (there is no
  // catalog behind it to map rows to faces); Nearest, NeighborGraph and StoredVector work.
  static Result<std::unique_ptr<FaceIndex>> InMemory(const VectorMatrix& vectors, const std::vector<int64_t>& labels,
                                                     const FaceIndexOptions& options = {});

  // The index file for a catalog URL ("sqlite:/x/facefill.db" -> "/x/facefill.db.hnsw").
  static std::string IndexPath(const std::string& catalog_url);

  virtual const FaceIndexUpdate& last_update() const = 0;
  virtual int64_t size() const = 0;  // live vectors
  virtual int dimension() const = 0;

  // The k nearest live vectors to `query` (L2-normalised), most similar first.
  virtual Result<std::vector<IndexNeighbor>> Nearest(std::span<const float> query, int k) const = 0;

  // Each of these stored vectors' k nearest other live vectors among `vector_rows` (euclidean distance between unit
  // vectors), searched with the index's own copy as the query on `threads` threads: the k-NN graph that clustering
  // runs on. Point i of the graph is vector_rows[i]; a row the index does not hold gets no neighbours.
  virtual Result<KnnGraph> NeighborGraph(const std::vector<int64_t>& vector_rows, int k, int threads) const = 0;

  // The vector stored at a row, as the index holds it (half precision), or kNotFound.
  virtual Result<std::vector<float>> StoredVector(int64_t vector_row) const = 0;

  // Nearest() mapped to face ids through the catalog, filtered by min_similarity: VectorStore::Search's contract.
  virtual Result<std::vector<VectorMatch>> Search(const Embedding& query, int top_k, float min_similarity) = 0;
};

// A vector store whose Search goes through the HNSW index (opened on first use, brought up to date then) and whose
// other calls go to `exact`, the SQLite store the index mirrors. When the index cannot be opened, Search falls back
// to `exact` with a warning.
std::unique_ptr<VectorStore> WithFaceIndex(std::unique_ptr<VectorStore> exact, const std::string& catalog_url,
                                           const FaceIndexOptions& options = {});

}  // namespace facefill
