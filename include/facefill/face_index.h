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
  // M 32 with 200 against M 16 with 100, synthetic faces on 2 cores: at 1,000,000 recall levels off at 0.96-0.97
  // with M 16, and clustering's BCubed F rises from 0.924 to 0.960 with M 32. With 8-bit codes, M 32 builds 100,000
  // faces in 20 s and 1,000,000 in about 8 min.
  int max_connections = 32;
  int ef_construction = 300;
  // Candidate list while searching, at least top_k (latency and recall grow with it). 1536: recall@10 against exact
  // search 0.9995 at 100,000 synthetic faces (median 2.2 ms) and 0.992 at 1,000,000 (median 4.5 ms with huge pages).
  int ef_search = 1024;
  int threads = 2;   // insertion threads when building or catching up
  bool save = true;  // write the index back beside the catalog after it changed
  // Back the index with 2 MB pages: its searches and inserts read it at random, and with 4 KB pages most reads also
  // miss the TLB, so at a million faces searches take about a quarter less time. Opening costs 1-2 s more there on
  // these VMs (the kernel gathers the pages), so it pays in processes that search a lot (full clustering runs,
  // `serve`, benchmarks), not in a short incremental assignment or a single search.
  bool huge_pages = false;
  // An open that changed the index appends what it changed to PATH.hnsw.delta (the links that changed and the
  // elements added: about 6 MB per 1,000 faces added at a million) until that file would pass this share of the
  // index file's size; then it rewrites the whole index file (0.8 GB at a million faces) and drops the delta. 0:
  // rewrite the whole file after every change.
  double rewrite_share = 0.2;
  Status Validate() const;
};

// What opening did to bring the index up to date with the catalog.
struct FaceIndexUpdate {
  bool rebuilt = false;        // the file was missing, unreadable or built for other vectors
  int64_t added = 0;           // vectors inserted
  int64_t deleted = 0;         // vectors gone from the catalog, marked deleted in the index
  bool rewritten = false;      // the whole index file was written
  bool delta_written = false;  // only the changes since it was, to the delta file beside it
  int64_t delta_bytes = 0;
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

  // Opens the index of the SQLite catalog at `catalog_url` (files PATH.hnsw, PATH.hnsw.json, PATH.hnsw.delta): loads
  // it with its delta, rebuilds it when missing or stale (other dimension or model, unreadable), marks vectors
  // deleted since as deleted, adds vectors stored since, and saves what changed (rewrite_share).
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

  // The k nearest live vectors to `query` (L2-normalised), most similar first, with similarities as the index's
  // codes give them (within a few 1e-4).
  virtual Result<std::vector<IndexNeighbor>> Nearest(std::span<const float> query, int k) const = 0;

  // Each of these stored vectors' k nearest other live vectors among `vector_rows` (euclidean distance between unit
  // vectors), searched with the index's own copy as the query on `threads` threads: the k-NN graph that clustering
  // runs on. Point i of the graph is vector_rows[i]; a row the index does not hold gets no neighbours.
  virtual Result<KnnGraph> NeighborGraph(const std::vector<int64_t>& vector_rows, int k, int threads) const = 0;

  // The vector stored at a row, as the index holds it (8-bit codes: each component within 1/254 of the vector's
  // largest component), or kNotFound.
  virtual Result<std::vector<float>> StoredVector(int64_t vector_row) const = 0;

  // Nearest() mapped to face ids through the catalog, filtered by min_similarity: VectorStore::Search's contract.
  // The closest top_k + 10 by the index are reranked by the catalog's own vectors, so the similarities are exact
  // search's.
  virtual Result<std::vector<VectorMatch>> Search(const Embedding& query, int top_k, float min_similarity) = 0;
};

// A vector store whose Search goes through the HNSW index (opened on first use, brought up to date then) and whose
// other calls go to `exact`, the SQLite store the index mirrors. When the index cannot be opened, Search falls back
// to `exact` with a warning.
std::unique_ptr<VectorStore> WithFaceIndex(std::unique_ptr<VectorStore> exact, const std::string& catalog_url,
                                           const FaceIndexOptions& options = {});

}  // namespace facefill
