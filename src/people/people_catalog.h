// The people module's reads and writes in the SQLite catalog: faces with their vectors, cluster ids, persons and the
// clustering state (the embedded FaceStore).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../sqlite/sqlite_db.h"
#include "face_store.h"
#include "facefill/hdbscan.h"

namespace facefill::people {

class PeopleCatalog final : public FaceStore {
 public:
  // Opens (and migrates) the SQLite catalog at `catalog_url`; PostgreSQL is refused with a message saying so.
  static Result<std::unique_ptr<PeopleCatalog>> Open(const std::string& catalog_url);

  // Faces by vector row (the face index's label).
  Result<std::vector<ClusterFace>> LoadFaces(VectorMatrix* vectors, const FaceGate& gate, int64_t after_face_row = 0,
                                             bool only_unassigned = false) override;
  bool IndexNeedsVectors() const override { return false; }
  // The HNSW index kept beside the catalog (FaceIndex::Open: brought up to date with every stored vector).
  Result<std::unique_ptr<FaceIndex>> OpenIndex(const std::vector<ClusterFace>& faces, VectorMatrix* vectors,
                                               const FaceIndexOptions& options) override;
  Result<std::vector<ClusterFace>> NearestFaces(std::span<const float> vector, int k, float min_similarity,
                                                const FaceIndexOptions& options) override;
  Result<int64_t> ClearClustersBelowGate(const FaceGate& gate) override;
  Result<int64_t> CountFaces(const FaceGate& gate) override;
  // Cluster and person of the faces whose vectors sit at these rows (missing rows are left out).
  Result<std::vector<ClusterFace>> FacesAtVectorRows(const std::vector<int64_t>& vector_rows);
  Status WriteClusterIds(const std::vector<ClusterChange>& changes) override;

  // facefill_people_state.
  Result<int64_t> State(const std::string& key) override;
  Status SetState(const std::string& key, int64_t value) override;

  Result<std::vector<PeopleCluster>> ListClusters(int64_t limit) override;
  Result<std::vector<ClusterPerson>> PersonsInClusters() override;

  sqlite::Database& db() { return *db_; }

 private:
  PeopleCatalog(std::unique_ptr<sqlite::Database> db, std::string catalog_url)
      : db_(std::move(db)), catalog_url_(std::move(catalog_url)) {}
  std::unique_ptr<sqlite::Database> db_;
  std::string catalog_url_;
  std::unique_ptr<FaceIndex> index_;  // NearestFaces's, opened on first use
};

}  // namespace facefill::people
