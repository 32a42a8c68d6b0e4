// People: faces grouped into clusters (HDBSCAN* over the face index's k-NN graph), kept stable across runs, new
// faces assigned incrementally, and clusters named as persons. Clustering and the listing work on the embedded
// (SQLite) catalog with its local vectors and on PostgreSQL with its vector store (the service's Qdrant collection,
// or pgvector); naming, merging and splitting on the embedded catalog only.
//
//   ClusterFaces("sqlite:facefill.db", {});              // full run: writes face_instances.cluster_id
//   AssignNewFaces("sqlite:facefill.db", {});            // after a backfill: new faces join existing clusters
//   auto people = ListPeople("sqlite:facefill.db");      // largest first
//   NameCluster("sqlite:facefill.db", people->front().cluster_id, "Ada");
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "facefill/face_index.h"
#include "facefill/hdbscan.h"
#include "facefill/status.h"

namespace facefill {

struct ClusterOptions {
  HdbscanOptions hdbscan;  // min_cluster_size 5, min_samples 3: the service's defaults
  bool exact = false;      // mutual reachability over all pairs instead of the k-NN graph (small libraries)
  // Faces less similar than this (cosine) are never linked directly; sets hdbscan.max_edge_distance. Same-person
  // pairs of the usual face models lie above it, and it keeps chains of weak links (blurred faces, strangers) from
  // joining clusters of different people.
  float min_similarity = 0.4f;
  // Quality gate: faces whose box's shorter side is below min_face_size pixels, or whose detection score is below
  // min_detection_score, are left out of clustering and incremental assignment (a full run clears their cluster);
  // faces labelled with a person always take part. The default pack's embedder places small, blurred faces (crowds
  // in the background) close together, so without it they form large clusters of strangers. 0 turns a check off.
  // 50 px is PhotoPrism's default face size for clustering; on the shared photos it leaves the crowd selfie's faces
  // (22-89 px, scores 0.6-0.9) out of every cluster and keeps every labelled identity's faces (93 px and up).
  int min_face_size = 50;
  float min_detection_score = 0;
  int neighbors = 15;  // k of the k-NN graph taken from the index
  int graph_ef = 48;   // HNSW candidate list for the graph's queries (at least neighbors + 1 is used)
  int threads = 2;     // graph queries and index insertion
  FaceIndexOptions index;
  // Incremental assignment (Immich's rule): a new face joins the cluster that at least min_agreeing of its
  // neighbours within max_distance (cosine distance, 1 - cosine) belong to.
  int min_agreeing = 3;
  float max_distance = 0.5f;
  // After incremental assignment, a full run starts when the faces still waiting exceed this share of all faces.
  double full_run_share = 0.2;
  Status Validate() const;
};

struct ClusterReport {
  int64_t faces = 0;
  int64_t clusters = 0;
  int64_t noise = 0;
  int64_t kept_ids = 0;  // clusters that kept the id of the old cluster they overlap most
  int64_t new_ids = 0;
  int64_t retired_ids = 0;     // old ids no cluster took over
  int64_t split_by_label = 0;  // clusters that held faces of two or more named persons and were split by them
  int64_t changed_faces = 0;   // faces whose cluster_id was rewritten
  int64_t below_gate = 0;      // faces left out by the quality gate
  int64_t graph_components = 0;
  double graph_seconds = 0;    // k-NN graph (including bringing the index up to date)
  double cluster_seconds = 0;  // HDBSCAN* proper
  double total_seconds = 0;
};

// A full clustering run over every face with a vector. `vectors_url` as for OpenStores: on SQLite "" or "local";
// on PostgreSQL "" (the catalog's default: the service's Qdrant collection on its database, pgvector on one of
// facefill's own), "pgvector" or a Qdrant URL. With Qdrant, the points' `cluster_id` payload is kept equal to
// face_instances.cluster_id through set-payload (null for none), nothing else of the payload changing.
Result<ClusterReport> ClusterFaces(const std::string& catalog_url, const ClusterOptions& options = {},
                                   const std::string& vectors_url = "");

struct AssignReport {
  int64_t pending = 0;  // new faces without a cluster or person since the last full run
  int64_t assigned = 0;
  int64_t waiting = 0;    // left for the next full run
  bool ran_full = false;  // the waiting faces passed full_run_share (or there was no full run yet)
  ClusterReport full;     // when ran_full
  double seconds = 0;
};

// Assigns faces added since the last full run; runs a full one when too many are left waiting.
Result<AssignReport> AssignNewFaces(const std::string& catalog_url, const ClusterOptions& options = {},
                                    const std::string& vectors_url = "");

// The step a backfill ends with: when the catalog is an embedded (SQLite) one with local vectors that has been
// clustered before, AssignNewFaces; otherwise nothing (nullopt).
Result<std::optional<AssignReport>> AssignAfterBackfill(const std::string& catalog_url, const std::string& vectors_url,
                                                        const ClusterOptions& options = {});

struct PeopleCluster {
  std::string cluster_id;
  int64_t faces = 0;
  int64_t photos = 0;
  // The representative face: best quality score, then detection confidence, then size.
  std::string face_id;
  std::string path;
  int bbox_x = 0, bbox_y = 0, bbox_w = 0, bbox_h = 0;
  // The one named person whose labelled faces are in this cluster, if exactly one is.
  std::string person_id;
  std::string person_name;
  int64_t labelled_faces = 0;  // faces of that person in the cluster
};

// Clusters, largest first (at most `limit`; 0: all). On the service's database, its noise marker (cluster id
// "-1") is not a cluster.
Result<std::vector<PeopleCluster>> ListPeople(const std::string& catalog_url, int64_t limit = 0);

// Names a cluster (embedded catalog only): finds or creates the active person called `name` (a `persons` row) and sets
// it on the cluster's faces that have no person yet. Returns the person id.
Result<std::string> NameCluster(const std::string& catalog_url, const std::string& cluster_id, const std::string& name);

// Moves every face of cluster `from` into cluster `into` (embedded catalog only). Refused when they hold faces of two
// different persons.
Status MergeClusters(const std::string& catalog_url, const std::string& into, const std::string& from);

// Moves these faces into a new cluster; returns its id (embedded catalog only).
Result<std::string> SplitFaces(const std::string& catalog_url, const std::vector<std::string>& face_ids);

}  // namespace facefill
