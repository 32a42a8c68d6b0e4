// Full clustering runs (k-NN graph from the index or all pairs, HDBSCAN*, labels win, stable ids) and incremental
// assignment of new faces.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <thread>
#include <unordered_map>

#include "../catalog/catalog_backends.h"
#include "face_store.h"
#include "facefill/people.h"

namespace facefill {
namespace {

using people::ClusterChange;
using people::ClusterFace;
using people::FaceGate;
using people::FaceStore;

constexpr char kClusteredThrough[] = "clustered_through_face_row";  // the largest face row of the last full run

FaceGate GateOf(const ClusterOptions& options) { return {options.min_face_size, options.min_detection_score}; }

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Labels are a person's work: a cluster holding labelled faces of two or more persons is split by person, each
// unlabelled face going with its most similar labelled one. Returns how many clusters were split.
// `vector_of(i)` gives face i's vector.
template <typename VectorOf>
Result<int64_t> SplitByPersons(const std::vector<ClusterFace>& faces, VectorOf&& vector_of,
                               std::vector<int32_t>* labels, int32_t* clusters) {
  std::map<int32_t, std::vector<int64_t>> members;
  for (size_t i = 0; i < faces.size(); ++i) {
    if ((*labels)[i] >= 0) members[(*labels)[i]].push_back(static_cast<int64_t>(i));
  }
  int64_t split = 0;
  for (const auto& [cluster, points] : members) {
    std::map<std::string, int32_t> label_of_person;
    std::vector<int64_t> labelled;
    for (int64_t p : points) {
      if (faces[p].person_id.empty()) continue;
      labelled.push_back(p);
      if (!label_of_person.count(faces[p].person_id)) {
        label_of_person[faces[p].person_id] = label_of_person.empty() ? cluster : (*clusters)++;
      }
    }
    if (label_of_person.size() < 2) continue;
    ++split;
    std::vector<std::vector<float>> labelled_vectors;
    for (int64_t q : labelled) {
      auto v = vector_of(q);
      if (!v.ok()) return v.status();
      labelled_vectors.push_back(std::move(v).value());
    }
    for (int64_t p : points) {
      if (!faces[p].person_id.empty()) {
        (*labels)[p] = label_of_person[faces[p].person_id];
        continue;
      }
      auto vector = vector_of(p);
      if (!vector.ok()) return vector.status();
      int64_t nearest = labelled.front();
      float best = -2;
      for (size_t l = 0; l < labelled.size(); ++l) {
        const int64_t q = labelled[l];
        const float similarity = Dot(vector->data(), labelled_vectors[l].data(), static_cast<int>(vector->size()));
        if (similarity > best) {
          best = similarity;
          nearest = q;
        }
      }
      (*labels)[p] = label_of_person[faces[nearest].person_id];
    }
  }
  return split;
}

// Stable ids: each new cluster takes the id of the old cluster it shares most faces with (largest overlaps first,
// one to one), unless the two hold labelled faces of different persons; the others get new ids.
std::vector<std::string> StableIds(const std::vector<ClusterFace>& faces, const std::vector<int32_t>& labels,
                                   int32_t clusters, ClusterReport* report) {
  std::map<std::pair<int32_t, std::string>, int64_t> overlap;
  std::map<int32_t, std::set<std::string>> new_persons;
  std::map<std::string, std::set<std::string>> old_persons;
  std::set<std::string> old_ids;
  for (size_t i = 0; i < faces.size(); ++i) {
    const auto& f = faces[i];
    if (!f.cluster_id.empty()) {
      old_ids.insert(f.cluster_id);
      if (!f.person_id.empty()) old_persons[f.cluster_id].insert(f.person_id);
    }
    if (labels[i] < 0) continue;
    if (!f.person_id.empty()) new_persons[labels[i]].insert(f.person_id);
    if (!f.cluster_id.empty()) ++overlap[{labels[i], f.cluster_id}];
  }
  std::vector<std::pair<int64_t, std::pair<int32_t, std::string>>> candidates;
  for (const auto& [key, count] : overlap) candidates.push_back({count, key});
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<std::string> ids(clusters);
  std::set<std::string> taken;
  for (const auto& [count, key] : candidates) {
    const auto& [cluster, old_id] = key;
    if (!ids[cluster].empty() || taken.count(old_id)) continue;
    const auto& a = new_persons[cluster];
    const auto& b = old_persons[old_id];
    const bool other_person =
        !a.empty() && !b.empty() && std::none_of(a.begin(), a.end(), [&](const auto& p) { return b.count(p) > 0; });
    if (other_person) continue;  // an id never moves to another person
    ids[cluster] = old_id;
    taken.insert(old_id);
    ++report->kept_ids;
  }
  for (auto& id : ids) {
    if (id.empty()) {
      id = people::NewId();
      ++report->new_ids;
    }
  }
  report->retired_ids = static_cast<int64_t>(old_ids.size() - taken.size());
  return ids;
}

}  // namespace

Status ClusterOptions::Validate() const {
  FACEFILL_RETURN_IF_ERROR(hdbscan.Validate());
  FACEFILL_RETURN_IF_ERROR(index.Validate());
  if (neighbors < hdbscan.min_samples) {
    return Status(StatusCode::kInvalidArgument, "neighbors must be at least min_samples");
  }
  if (threads < 1) return Status(StatusCode::kInvalidArgument, "threads must be at least 1");
  if (graph_ef < 1) return Status(StatusCode::kInvalidArgument, "graph_ef must be at least 1");
  if (min_similarity < -1 || min_similarity >= 1) {
    return Status(StatusCode::kInvalidArgument, "min_similarity is a cosine in [-1, 1)");
  }
  if (min_agreeing < 1) return Status(StatusCode::kInvalidArgument, "min_agreeing must be at least 1");
  if (max_distance <= 0 || max_distance > 2) {
    return Status(StatusCode::kInvalidArgument, "max_distance is a cosine distance in (0, 2]");
  }
  if (full_run_share < 0) return Status(StatusCode::kInvalidArgument, "full_run_share must not be negative");
  if (min_face_size < 0) return Status(StatusCode::kInvalidArgument, "min_face_size must not be negative");
  if (min_detection_score < 0 || min_detection_score > 1) {
    return Status(StatusCode::kInvalidArgument, "min_detection_score is a score in [0, 1]");
  }
  return Status::Ok();
}

namespace {

Result<ClusterReport> ClusterFacesIn(FaceStore& store, const ClusterOptions& options) {
  FACEFILL_RETURN_IF_ERROR(options.Validate());
  const auto start = std::chrono::steady_clock::now();
  VectorMatrix vectors;
  // The graph's queries use the index's own copies of the vectors, so only the exact variant, or a store whose index
  // is built for the run, reads them here.
  auto faces = store.LoadFaces(options.exact || store.IndexNeedsVectors() ? &vectors : nullptr, GateOf(options));
  if (!faces.ok()) return faces.status();
  ClusterReport report;
  report.faces = static_cast<int64_t>(faces->size());
  auto all_faces = store.CountFaces(FaceGate{});
  if (!all_faces.ok()) return all_faces.status();
  report.below_gate = *all_faces - report.faces;  // faces without a vector count here too

  HdbscanOptions hdbscan = options.hdbscan;
  hdbscan.max_edge_distance = std::sqrt(std::max(0.0f, 2.0f - 2.0f * options.min_similarity));
  Result<HdbscanResult> clustered = HdbscanResult{};
  std::unique_ptr<FaceIndex> index;
  if (options.exact) {
    const auto cluster_start = std::chrono::steady_clock::now();
    clustered = HdbscanExact(vectors, hdbscan, options.threads);
    report.cluster_seconds = SecondsSince(cluster_start);
  } else {
    const auto graph_start = std::chrono::steady_clock::now();
    FaceIndexOptions index_options = options.index;
    index_options.threads = options.threads;
    index_options.ef_search = std::max(options.graph_ef, options.neighbors + 1);
    index_options.huge_pages = true;  // a search per face: faster searches are worth a slower open
    auto opened = store.OpenIndex(*faces, &vectors, index_options);
    if (!opened.ok()) return opened.status();
    index = std::move(opened).value();
    std::vector<int64_t> rows;
    rows.reserve(faces->size());
    for (const auto& f : *faces) rows.push_back(f.vector_row);
    auto graph = index->NeighborGraph(rows, options.neighbors, options.threads);
    if (!graph.ok()) return graph.status();
    report.graph_seconds = SecondsSince(graph_start);
    const auto cluster_start = std::chrono::steady_clock::now();
    clustered = HdbscanFromGraph(*graph, hdbscan);
    report.cluster_seconds = SecondsSince(cluster_start);
  }
  if (!clustered.ok()) return clustered.status();
  report.graph_components = clustered->forest_components;
  std::vector<int32_t> labels = std::move(clustered->labels);
  int32_t clusters = clustered->clusters;
  auto vector_of = [&](int64_t i) -> Result<std::vector<float>> {
    if (!index) return std::vector<float>(vectors.row(i).begin(), vectors.row(i).end());
    return index->StoredVector((*faces)[i].vector_row);
  };
  auto split = SplitByPersons(*faces, vector_of, &labels, &clusters);
  if (!split.ok()) return split.status();
  report.split_by_label = *split;
  const auto ids = StableIds(*faces, labels, clusters, &report);

  std::vector<ClusterChange> changes;
  int64_t through = 0;
  for (size_t i = 0; i < faces->size(); ++i) {
    const auto& f = (*faces)[i];
    through = std::max(through, f.face_row);
    const std::string id = labels[i] >= 0 ? ids[labels[i]] : std::string();
    if (labels[i] < 0) ++report.noise;
    if (id != f.cluster_id) changes.push_back({f.id, id, f.point_id});
  }
  report.clusters = clusters;
  report.changed_faces = static_cast<int64_t>(changes.size());
  FACEFILL_RETURN_IF_ERROR(store.WriteClusterIds(changes));
  auto cleared = store.ClearClustersBelowGate(GateOf(options));
  if (!cleared.ok()) return cleared.status();
  report.changed_faces += *cleared;
  FACEFILL_RETURN_IF_ERROR(store.SetState(kClusteredThrough, through));
  report.total_seconds = SecondsSince(start);
  return report;
}

}  // namespace

Result<ClusterReport> ClusterFaces(const std::string& catalog_url, const ClusterOptions& options,
                                   const std::string& vectors_url) {
  FACEFILL_RETURN_IF_ERROR(options.Validate());
  auto store = people::OpenFaceStore(catalog_url, vectors_url);
  if (!store.ok()) return store.status();
  return ClusterFacesIn(**store, options);
}

Result<AssignReport> AssignNewFaces(const std::string& catalog_url, const ClusterOptions& options,
                                    const std::string& vectors_url) {
  FACEFILL_RETURN_IF_ERROR(options.Validate());
  const auto start = std::chrono::steady_clock::now();
  AssignReport report;
  auto opened = people::OpenFaceStore(catalog_url, vectors_url);
  if (!opened.ok()) return opened.status();
  FaceStore& store = **opened;
  auto through = store.State(kClusteredThrough);
  if (!through.ok()) return through.status();
  auto run_full = [&]() -> Result<AssignReport> {
    auto full = ClusterFacesIn(store, options);
    if (!full.ok()) return full.status();
    report.ran_full = true;
    report.full = *full;
    report.seconds = SecondsSince(start);
    return report;
  };
  if (*through == 0) return run_full();  // never clustered: everything is new

  VectorMatrix vectors;
  auto pending = store.LoadFaces(&vectors, GateOf(options), *through, true);
  if (!pending.ok()) return pending.status();
  report.pending = static_cast<int64_t>(pending->size());
  if (pending->empty()) return report;
  FaceIndexOptions index_options = options.index;
  index_options.threads = options.threads;
  // Only neighbours within max_distance vote, and those are close: the graph's short candidate list finds them.
  index_options.ef_search = std::max(options.graph_ef, options.neighbors + 1);

  std::vector<ClusterChange> changes;
  for (size_t i = 0; i < pending->size(); ++i) {
    const auto& face = (*pending)[i];
    auto neighbors = store.NearestFaces(vectors.row(static_cast<int64_t>(i)), options.neighbors + 1,
                                        1.0f - options.max_distance, index_options);
    if (!neighbors.ok()) return neighbors.status();
    std::map<std::string, int> votes;
    for (const auto& n : *neighbors) {
      if (n.id != face.id && !n.cluster_id.empty()) ++votes[n.cluster_id];
    }
    auto best =
        std::max_element(votes.begin(), votes.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
    if (best != votes.end() && best->second >= options.min_agreeing) {
      changes.push_back({face.id, best->first, face.point_id});
    }
  }
  FACEFILL_RETURN_IF_ERROR(store.WriteClusterIds(changes));
  report.assigned = static_cast<int64_t>(changes.size());
  report.waiting = report.pending - report.assigned;

  auto total = store.CountFaces(GateOf(options));
  if (!total.ok()) return total.status();
  const int64_t faces = *total;
  if (faces > 0 && static_cast<double>(report.waiting) > options.full_run_share * static_cast<double>(faces)) {
    spdlog::info("{} of {} faces wait for a cluster: full run", report.waiting, faces);
    return run_full();
  }
  report.seconds = SecondsSince(start);
  return report;
}

Result<std::optional<AssignReport>> AssignAfterBackfill(const std::string& catalog_url, const std::string& vectors_url,
                                                        const ClusterOptions& options) {
  if (IsPostgresUrl(catalog_url) || !(vectors_url.empty() || vectors_url == "local")) {
    return std::optional<AssignReport>();
  }
  auto catalog = people::OpenFaceStore(catalog_url, vectors_url);
  if (!catalog.ok()) return catalog.status();
  auto through = (*catalog)->State(kClusteredThrough);
  if (!through.ok()) return through.status();
  if (*through == 0)
    return std::optional<AssignReport>();  // never clustered: `facefill cluster` makes the first clusters
  catalog->reset();
  auto report = AssignNewFaces(catalog_url, options, vectors_url);
  if (!report.ok()) return report.status();
  return std::optional<AssignReport>(*report);
}

}  // namespace facefill
