// FaceStore: where clustering reads faces and their vectors and writes cluster ids — the embedded SQLite catalog
// (PeopleCatalog) or a PostgreSQL catalog with its vector store (Qdrant or pgvector). The rules (quality gate,
// labels win, stable ids, incremental votes) live in clustering.cc and people_ops.cc, once, for both.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "facefill/face_index.h"
#include "facefill/hdbscan.h"
#include "facefill/people.h"
#include "facefill/status.h"

namespace facefill::people {

struct ClusterFace {
  int64_t face_row = 0;    // increases with the order faces were added (SQLite rowid; PostgreSQL created_at in us)
  int64_t vector_row = 0;  // the face's label in the store's nearest-neighbour index
  std::string id;
  int64_t asset_id = 0;
  std::string cluster_id;  // empty: none
  std::string person_id;   // empty: none
  std::string point_id;    // the vector's id (face_instances.qdrant_point_id)
};

// Which faces take part in clustering: those whose box's shorter side and detection score reach these (0: no
// check), and every face labelled with a person.
struct FaceGate {
  int min_face_size = 0;
  float min_detection_score = 0;
};

struct ClusterChange {
  std::string face_id;
  std::string cluster_id;  // empty: none (NULL)
  std::string point_id;    // the face's vector id, for stores that keep the cluster id beside the vector too
};

// A cluster's persons: how many faces of each named person it holds.
struct ClusterPerson {
  std::string cluster_id;
  std::string person_id;
  std::string person_name;
  int64_t faces = 0;
};

class FaceStore {
 public:
  virtual ~FaceStore() = default;

  // Faces that have a vector and pass the gate, in the store's stable order; with `vectors`, their vectors in the
  // same order. Only faces with face_row > after_face_row, and with only_unassigned, only those with neither cluster
  // nor person.
  virtual Result<std::vector<ClusterFace>> LoadFaces(VectorMatrix* vectors, const FaceGate& gate,
                                                     int64_t after_face_row = 0, bool only_unassigned = false) = 0;
  // Whether OpenIndex needs the vectors LoadFaces reads (an index built for the run rather than one kept on disk).
  virtual bool IndexNeedsVectors() const = 0;
  // The nearest-neighbour index over at least `faces` (as LoadFaces returned them, `vectors` theirs when it read
  // them), labelled by vector_row. It may take the vectors' memory.
  virtual Result<std::unique_ptr<FaceIndex>> OpenIndex(const std::vector<ClusterFace>& faces, VectorMatrix* vectors,
                                                       const FaceIndexOptions& options) = 0;
  // The faces nearest to `vector` among every stored face with a vector, at most k, with cosine similarity at
  // least min_similarity.
  virtual Result<std::vector<ClusterFace>> NearestFaces(std::span<const float> vector, int k, float min_similarity,
                                                        const FaceIndexOptions& options) = 0;
  // Clears the cluster of faces that do not pass the gate; returns how many changed.
  virtual Result<int64_t> ClearClustersBelowGate(const FaceGate& gate) = 0;
  // Faces that pass the gate.
  virtual Result<int64_t> CountFaces(const FaceGate& gate) = 0;
  virtual Status WriteClusterIds(const std::vector<ClusterChange>& changes) = 0;

  // Clustering state, an integer per key (0 when unset).
  virtual Result<int64_t> State(const std::string& key) = 0;
  virtual Status SetState(const std::string& key, int64_t value) = 0;

  // Clusters, largest first (at most `limit`; 0: all), with their representative face; no person fields.
  virtual Result<std::vector<PeopleCluster>> ListClusters(int64_t limit) = 0;
  // The named persons' faces in each cluster.
  virtual Result<std::vector<ClusterPerson>> PersonsInClusters() = 0;
};

// The store of a catalog URL: SQLite (vectors must be the catalog's own: "" or "local") or PostgreSQL with the vector
// store `vectors_url` names (as OpenStores chooses it: the service's Qdrant collection by default on its database).
Result<std::unique_ptr<FaceStore>> OpenFaceStore(const std::string& catalog_url, const std::string& vectors_url);

Result<std::unique_ptr<FaceStore>> OpenPostgresFaceStore(const std::string& catalog_url,
                                                         const std::string& vectors_url);

// Clusters, largest first (at most `limit`; 0: all), each with the one named person whose faces it holds, if exactly
// one (facefill::ListPeople over an open store).
Result<std::vector<PeopleCluster>> ListPeople(FaceStore& store, int64_t limit = 0);

// A fresh random cluster or person id (UUID v4).
std::string NewId();

}  // namespace facefill::people
