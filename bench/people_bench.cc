// facefill-bench-people: clustering and search at scale with no photos. Synthetic 512-d faces (identity centres on
// the sphere, Zipf sizes, look-alikes) go into a real SQLite catalog; then the index build, the full clustering, the
// search recall@10 and latency against exact search, and incremental assignment are timed, and the clustering is
// scored against the known identities (optionally beside an exact k-NN-graph reference). Prints JSON.
#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>

#include "facefill/catalog.h"
#include "facefill/face_index.h"
#include "facefill/people.h"
#include "facefill/synthetic_faces.h"
#include "facefill/vector_store.h"

namespace {

namespace fs = std::filesystem;
using namespace facefill;
using nlohmann::json;

struct Flags {
  int64_t faces = 100000;
  int64_t identities = 0;
  double effective_dimension = SyntheticFacesOptions{}.effective_dimension;
  uint64_t seed = 42;
  std::string db;  // default: a fresh file in the temporary folder, removed afterwards
  bool exact_reference = false;
  int queries = 200;
  int exact_search_queries = 5;
  int64_t incremental = 1000;
  ClusterOptions cluster;
};

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// CPU seconds of the whole process so far (all threads): on a shared machine, a fairer clock than the wall.
double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6;
}

double PeakRssGb() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / (1024.0 * 1024.0);
}

json QualityJson(const ClusteringQuality& q) {
  return {
      {"bcubed_precision", q.bcubed_precision},     {"bcubed_recall", q.bcubed_recall},      {"bcubed_f", q.bcubed_f},
      {"pairwise_precision", q.pairwise_precision}, {"noise_share", q.noise_share},          {"clusters", q.clusters},
      {"merged_clusters", q.merged_clusters},       {"split_identities", q.split_identities}};
}

// Cluster label per stored face, in row order, read back from the catalog.
std::vector<int32_t> StoredLabels(const std::string& path, const std::vector<std::string>& ids) {
  std::map<std::string, std::string> cluster_of;
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT id, COALESCE(cluster_id, '') FROM face_instances", -1, &stmt, nullptr);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    cluster_of[reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0))] =
        reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  std::map<std::string, int32_t> label;
  std::vector<int32_t> labels;
  for (const auto& id : ids) {
    const auto& c = cluster_of[id];
    labels.push_back(c.empty() ? -1 : label.try_emplace(c, static_cast<int32_t>(label.size())).first->second);
  }
  return labels;
}

// Mean and spread of the cosine between faces of different people, on 20,000 random pairs (the shared photos with
// the default pack: mean 0.03, standard deviation 0.087).
json DifferentPersonCosine(const SyntheticFaces& faces) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> pick(0, faces.vectors.rows() - 1);
  double sum = 0, squares = 0;
  int pairs = 0;
  while (pairs < 20000) {
    const int64_t a = pick(rng), b = pick(rng);
    if (faces.identity[a] == faces.identity[b]) continue;
    const double c = Dot(faces.vectors.row(a).data(), faces.vectors.row(b).data(), faces.vectors.dimension);
    sum += c;
    squares += c * c;
    ++pairs;
  }
  const double mean = sum / pairs;
  return {{"mean", mean}, {"std", std::sqrt(std::max(0.0, squares / pairs - mean * mean))}};
}

// recall@10 of the index against brute force over the stored vectors, and its latency, on held-out faces.
// The first ids.size() faces are stored; a query that is itself stored is left out of its own results.
std::optional<json> MeasureSearch(FaceIndex& index, const SyntheticFaces& faces, const std::vector<std::string>& ids,
                                  const Flags& flags) {
  const int64_t stored = static_cast<int64_t>(ids.size());
  // Beside plain recall@10: recall of the true top 10 that are plausibly the same person (cosine >= 0.3); for
  // queries with few such faces, the rest of the top 10 are near-ties among strangers.
  int64_t found = 0, wanted = 0, found_close = 0, wanted_close = 0;
  std::vector<double> latency_ms;
  for (int q = 0; q < flags.queries && q < flags.incremental; ++q) {
    const int64_t row = flags.faces + q;
    const auto query = faces.vectors.row(row);
    const std::string self = row < stored ? ids[row] : std::string();
    std::vector<std::pair<float, int64_t>> best;
    for (int64_t r = 0; r < stored; ++r) {
      if (r != row) best.emplace_back(Dot(query.data(), faces.vectors.row(r).data(), faces.vectors.dimension), r);
    }
    std::partial_sort(best.begin(), best.begin() + 10, best.end(), std::greater<>());
    std::set<std::string> truth, close;
    for (int i = 0; i < 10; ++i) {
      truth.insert(ids[best[i].second]);
      if (best[i].first >= 0.3f) close.insert(ids[best[i].second]);
    }
    Embedding embedding(query.begin(), query.end());
    const auto query_start = std::chrono::steady_clock::now();
    auto hits = index.Search(embedding, self.empty() ? 10 : 11, -1.0f);
    latency_ms.push_back(Seconds(query_start) * 1000);
    if (!hits.ok()) return std::nullopt;
    int taken = 0;
    for (const auto& h : *hits) {
      if (h.point_id == self || taken == 10) continue;
      found += truth.count(h.point_id);
      found_close += close.count(h.point_id);
      ++taken;
    }
    wanted += 10;
    wanted_close += static_cast<int64_t>(close.size());
  }
  std::sort(latency_ms.begin(), latency_ms.end());
  if (latency_ms.empty()) return json::object();
  return json{{"queries", latency_ms.size()},
              {"recall_at_10", static_cast<double>(found) / static_cast<double>(wanted)},
              {"recall_at_10_cosine_0_3", wanted_close ? static_cast<double>(found_close) / double(wanted_close) : 1.0},
              {"neighbours_cosine_0_3", wanted_close},
              {"median_ms", latency_ms[latency_ms.size() / 2]},
              {"p95_ms", latency_ms[latency_ms.size() * 95 / 100]}};
}

// --search-only: the catalog and index of an earlier run with --db (same --faces and --seed), searched at each ef.
int SearchOnly(const Flags& flags, const std::vector<int>& ef_list) {
  SyntheticFacesOptions synthetic;
  synthetic.faces = flags.faces + flags.incremental;
  synthetic.identities = flags.identities > 0 ? flags.identities : flags.faces / 20;
  synthetic.seed = flags.seed;
  synthetic.effective_dimension = flags.effective_dimension;
  const SyntheticFaces faces = GenerateSyntheticFaces(synthetic);
  std::vector<std::string> ids;
  sqlite3* db = nullptr;
  sqlite3_open(flags.db.c_str(), &db);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT id FROM face_instances ORDER BY rowid", -1, &stmt, nullptr);
  while (sqlite3_step(stmt) == SQLITE_ROW) ids.push_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  if (static_cast<int64_t>(ids.size()) < flags.faces) {
    std::cerr << flags.db << " holds " << ids.size() << " faces, fewer than " << flags.faces << "\n";
    return 1;
  }
  json out = json::array();
  for (int ef : ef_list) {
    FaceIndexOptions options = flags.cluster.index;
    options.ef_search = ef;
    options.save = false;
    auto index = FaceIndex::Open("sqlite:" + flags.db, options);
    if (!index.ok()) {
      std::cerr << index.status().ToString() << "\n";
      return 1;
    }
    auto search = MeasureSearch(**index, faces, ids, flags);
    if (!search) return 1;
    (*search)["ef_search"] = ef;
    out.push_back(*search);
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}

int Run(const Flags& flags) {
  json out;
  out["faces"] = flags.faces;
  out["threads"] = flags.cluster.threads;
  const auto total_start = std::chrono::steady_clock::now();
  // Faces to store, then held-out ones: search queries first, then the incremental batch.
  SyntheticFacesOptions synthetic;
  synthetic.faces = flags.faces + flags.incremental;
  synthetic.identities = flags.identities > 0 ? flags.identities : flags.faces / 20;
  synthetic.seed = flags.seed;
  synthetic.effective_dimension = flags.effective_dimension;
  auto start = std::chrono::steady_clock::now();
  const SyntheticFaces faces = GenerateSyntheticFaces(synthetic);
  out["identities"] = faces.identities;
  out["effective_dimension"] = flags.effective_dimension;
  out["generate_seconds"] = Seconds(start);
  out["different_person_cosine"] = DifferentPersonCosine(faces);

  const fs::path db_path = flags.db.empty()
                               ? fs::temp_directory_path() / fmt::format("facefill-people-bench-{}.db", ::getpid())
                               : fs::path(flags.db);
  for (const char* suffix : {"", "-wal", "-shm", ".hnsw", ".hnsw.json"}) fs::remove(db_path.string() + suffix);
  const std::string url = "sqlite:" + db_path.string();
  auto catalog = OpenCatalog(url);
  auto vectors = OpenVectorStore("", url);
  if (!catalog.ok() || !vectors.ok()) {
    std::cerr << (!catalog.ok() ? catalog.status() : vectors.status()).ToString() << "\n";
    return 1;
  }
  start = std::chrono::steady_clock::now();
  auto ids = StoreSyntheticFaces(faces, 0, flags.faces, **catalog, **vectors);
  if (!ids.ok()) {
    std::cerr << ids.status().ToString() << "\n";
    return 1;
  }
  out["insert_seconds"] = Seconds(start);
  std::cerr << fmt::format("stored {} faces in {:.1f} s\n", flags.faces, out["insert_seconds"].get<double>());

  // The index, built from the catalog.
  FaceIndexOptions index_options = flags.cluster.index;
  index_options.threads = flags.cluster.threads;
  start = std::chrono::steady_clock::now();
  double cpu = CpuSeconds();
  auto index = FaceIndex::Open(url, index_options);
  if (!index.ok()) {
    std::cerr << index.status().ToString() << "\n";
    return 1;
  }
  out["index_build_seconds"] = Seconds(start);
  out["index_build_cpu_seconds"] = CpuSeconds() - cpu;
  out["index_bytes"] = fs::file_size(FaceIndex::IndexPath(url));
  std::cerr << fmt::format("index built in {:.1f} s\n", out["index_build_seconds"].get<double>());

  // Search: recall@10 and latency against exact (brute force over the vectors in memory, and the SQLite store).
  auto search = MeasureSearch(**index, faces, *ids, flags);
  if (!search) return 1;
  out["search"] = *search;
  std::vector<double> exact_ms;
  for (int q = 0; q < flags.exact_search_queries && q < flags.incremental; ++q) {
    const auto query = faces.vectors.row(flags.faces + q);
    Embedding embedding(query.begin(), query.end());
    const auto query_start = std::chrono::steady_clock::now();
    auto hits = (*vectors)->Search(embedding, 10, -1.0f);
    exact_ms.push_back(Seconds(query_start) * 1000);
    if (!hits.ok()) return 1;
  }
  std::sort(exact_ms.begin(), exact_ms.end());
  if (!exact_ms.empty()) out["exact_search_median_ms"] = exact_ms[exact_ms.size() / 2];
  index->reset();

  // Full clustering from scratch (the index exists; its build time is above).
  cpu = CpuSeconds();
  auto report = ClusterFaces(url, flags.cluster);
  if (!report.ok()) {
    std::cerr << report.status().ToString() << "\n";
    return 1;
  }
  out["cluster"] = {{"total_seconds", report->total_seconds},
                    {"graph_seconds", report->graph_seconds},
                    {"hdbscan_seconds", report->cluster_seconds},
                    {"clusters", report->clusters},
                    {"noise", report->noise},
                    {"graph_components", report->graph_components},
                    {"neighbors", flags.cluster.neighbors},
                    {"cpu_seconds", CpuSeconds() - cpu}};
  std::cerr << fmt::format("clustered in {:.1f} s\n", report->total_seconds);
  const std::vector<int32_t> truth(faces.identity.begin(), faces.identity.begin() + flags.faces);
  const auto labels = StoredLabels(db_path.string(), *ids);
  out["quality"] = QualityJson(MeasureClustering(labels, truth));

  // A second run: ids kept.
  auto second = ClusterFaces(url, flags.cluster);
  if (!second.ok()) return 1;
  out["second_run"] = {{"seconds", second->total_seconds},
                       {"kept_ids", second->kept_ids},
                       {"new_ids", second->new_ids},
                       {"changed_faces", second->changed_faces}};

  // The exact reference: the same HDBSCAN* on the exact k-NN graph (brute force).
  if (flags.exact_reference) {
    start = std::chrono::steady_clock::now();
    cpu = CpuSeconds();
    VectorMatrix stored;
    stored.dimension = faces.vectors.dimension;
    stored.values.assign(faces.vectors.values.begin(), faces.vectors.values.begin() + flags.faces * stored.dimension);
    KnnGraph graph = ExactKnnGraph(stored, flags.cluster.neighbors, flags.cluster.threads);
    const double graph_seconds = Seconds(start);
    HdbscanOptions hdbscan = flags.cluster.hdbscan;  // as ClusterFaces sets it
    hdbscan.max_edge_distance = std::sqrt(std::max(0.0f, 2.0f - 2.0f * flags.cluster.min_similarity));
    auto exact = HdbscanFromGraph(graph, hdbscan);
    if (!exact.ok()) return 1;
    out["exact_reference"] = QualityJson(MeasureClustering(exact->labels, truth));
    out["exact_reference"]["graph_seconds"] = graph_seconds;
    out["exact_reference"]["total_seconds"] = Seconds(start);
    out["exact_reference"]["cpu_seconds"] = CpuSeconds() - cpu;
    std::vector<int32_t> exact_as_truth = exact->labels;
    for (size_t i = 0; i < exact_as_truth.size(); ++i) {
      if (exact_as_truth[i] < 0) exact_as_truth[i] = -2 - static_cast<int32_t>(i);
    }
    out["approximate_vs_exact_bcubed_f"] = MeasureClustering(labels, exact_as_truth).bcubed_f;
  }

  // Incremental: the held-out faces stored as a backfill would, then assigned.
  if (flags.incremental > 0) {
    auto more = StoreSyntheticFaces(faces, flags.faces, flags.incremental, **catalog, **vectors);
    if (!more.ok()) return 1;
    ClusterOptions options = flags.cluster;
    options.full_run_share = 1.0;
    cpu = CpuSeconds();
    auto assigned = AssignNewFaces(url, options);
    if (!assigned.ok()) {
      std::cerr << assigned.status().ToString() << "\n";
      return 1;
    }
    out["incremental"] = {{"faces", flags.incremental},
                          {"assigned", assigned->assigned},
                          {"waiting", assigned->waiting},
                          {"seconds", assigned->seconds},
                          {"cpu_seconds", CpuSeconds() - cpu}};
  }
  out["total_seconds"] = Seconds(total_start);
  out["peak_rss_gb"] = PeakRssGb();
  out["catalog_bytes"] = fs::file_size(db_path);
  std::cout << out.dump(2) << "\n";
  if (flags.db.empty()) {
    for (const char* suffix : {"", "-wal", "-shm", ".hnsw", ".hnsw.json"}) fs::remove(db_path.string() + suffix);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"facefill-bench-people: clustering and search on synthetic faces in a real catalog"};
  Flags flags;
  app.add_option("--faces", flags.faces, "Faces stored")->capture_default_str();
  app.add_option("--identities", flags.identities, "Identities (0: faces / 20)")->capture_default_str();
  app.add_option("--seed", flags.seed, "Generator seed")->capture_default_str();
  app.add_option("--effective-dimension", flags.effective_dimension,
                 "Spread of the synthetic vectors over the dimensions (0: isotropic 512-d)")
      ->capture_default_str();
  app.add_option("--db", flags.db, "Catalog file to (re)create and keep (default: a temporary one)");
  app.add_flag("--exact-reference", flags.exact_reference, "Also cluster on the exact k-NN graph (brute force)");
  app.add_option("--queries", flags.queries, "Search queries for recall@10 and latency")->capture_default_str();
  app.add_option("--exact-search-queries", flags.exact_search_queries, "Queries timed through exact search")
      ->capture_default_str();
  app.add_option("--incremental", flags.incremental, "Faces added after clustering and assigned incrementally")
      ->capture_default_str();
  app.add_option("--threads", flags.cluster.threads, "Threads")->capture_default_str();
  app.add_option("--neighbors", flags.cluster.neighbors, "k of the k-NN graph")->capture_default_str();
  app.add_option("--min-similarity", flags.cluster.min_similarity, "Cosine below which faces are never linked")
      ->capture_default_str();
  app.add_option("--min-cluster-size", flags.cluster.hdbscan.min_cluster_size, "HDBSCAN* min_cluster_size")
      ->capture_default_str();
  app.add_option("--min-samples", flags.cluster.hdbscan.min_samples, "HDBSCAN* min_samples")->capture_default_str();
  app.add_option("--graph-ef", flags.cluster.graph_ef, "HNSW ef for the clustering graph")->capture_default_str();
  app.add_option("--ef-search", flags.cluster.index.ef_search, "HNSW ef for search")->capture_default_str();
  app.add_option("--ef-construction", flags.cluster.index.ef_construction, "HNSW ef_construction")
      ->capture_default_str();
  app.add_option("--m", flags.cluster.index.max_connections, "HNSW M")->capture_default_str();
  bool search_only = false;
  std::vector<int> ef_list{64, 128, 256, 512};
  app.add_flag("--search-only", search_only,
               "Only search the catalog and index an earlier run kept with --db (same --faces, --seed), at each "
               "--ef-list value");
  app.add_option("--ef-list", ef_list, "ef values for --search-only")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (search_only) return SearchOnly(flags, ef_list);
  return Run(flags);
}
