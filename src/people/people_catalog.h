// The people module's reads and writes in the SQLite catalog: faces with their vectors, cluster ids, persons and the
// clustering state.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../sqlite/sqlite_db.h"
#include "facefill/hdbscan.h"

namespace facefill::people {

struct ClusterFace {
  int64_t face_row = 0;    // face_instances rowid: faces added later have larger ones
  int64_t vector_row = 0;  // facefill_face_vectors rowid: the face index's label
  std::string id;
  int64_t asset_id = 0;
  std::string cluster_id;  // empty: none
  std::string person_id;   // empty: none
};

// Which faces take part in clustering: those whose box's shorter side and detection score reach these (0: no
// check), and every face labelled with a person.
struct FaceGate {
  int min_face_size = 0;
  float min_detection_score = 0;
};

struct ClusterChange {
  std::string face_id;
  std::string cluster_id;  // empty: set NULL
};

class PeopleCatalog {
 public:
  // Opens (and migrates) the SQLite catalog at `catalog_url`; PostgreSQL is refused with a message saying so.
  static Result<std::unique_ptr<PeopleCatalog>> Open(const std::string& catalog_url);

  // Faces that have a vector and pass the gate, by vector row; with `vectors`, their vectors in the same order. Only
  // faces with face_row > after_face_row, and with only_unassigned, only those with neither cluster nor person.
  Result<std::vector<ClusterFace>> LoadFaces(VectorMatrix* vectors, const FaceGate& gate, int64_t after_face_row = 0,
                                             bool only_unassigned = false);
  // Clears the cluster of faces that do not pass the gate; returns how many changed.
  Result<int64_t> ClearClustersBelowGate(const FaceGate& gate);
  // Faces that pass the gate.
  Result<int64_t> CountFaces(const FaceGate& gate);
  // Cluster and person of the faces whose vectors sit at these rows (missing rows are left out).
  Result<std::vector<ClusterFace>> FacesAtVectorRows(const std::vector<int64_t>& vector_rows);
  Status WriteClusterIds(const std::vector<ClusterChange>& changes);

  // facefill_people_state, an integer per key (0 when unset).
  Result<int64_t> State(const std::string& key);
  Status SetState(const std::string& key, int64_t value);

  sqlite::Database& db() { return *db_; }

 private:
  explicit PeopleCatalog(std::unique_ptr<sqlite::Database> db) : db_(std::move(db)) {}
  std::unique_ptr<sqlite::Database> db_;
};

// A fresh random cluster or person id (UUID v4).
std::string NewId();

}  // namespace facefill::people
