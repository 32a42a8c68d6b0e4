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

// The synthetic set of these flags with `total` faces: the identities of --faces (--identities, or one per 20 faces),
// so a longer set continues the same people.
SyntheticFacesOptions SyntheticOptions(const Flags& flags, int64_t total) {
  SyntheticFacesOptions synthetic;
  synthetic.faces = total;
  synthetic.identities = flags.identities > 0 ? flags.identities : flags.faces / 20;
  synthetic.seed = flags.seed;
  synthetic.effective_dimension = flags.effective_dimension;
  return synthetic;
}

// The true 10 nearest stored vectors (rows 0 .. stored - 1 of `vectors`) of each query row, by brute force, most
// similar first; a stored query is left out of its own.
std::vector<std::vector<std::pair<float, int64_t>>> ExactTop10(const VectorMatrix& vectors, int64_t stored,
                                                               const std::vector<int64_t>& query_rows) {
  std::vector<std::vector<std::pair<float, int64_t>>> out;
  for (const int64_t row : query_rows) {
    const auto query = vectors.row(row);
    std::vector<std::pair<float, int64_t>> best;
    for (int64_t r = 0; r < stored; ++r) {
      if (r != row) best.emplace_back(Dot(query.data(), vectors.row(r).data(), vectors.dimension), r);
    }
    std::partial_sort(best.begin(), best.begin() + 10, best.end(), std::greater<>());
    out.emplace_back(best.begin(), best.begin() + 10);  // not `best` itself: it would keep room for every row
  }
  return out;
}

// recall@10 of the index against `truth` (ExactTop10 of the same query rows), and its latency.
std::optional<json> MeasureSearch(FaceIndex& index, const VectorMatrix& vectors, const std::vector<std::string>& ids,
                                  const std::vector<int64_t>& query_rows,
                                  const std::vector<std::vector<std::pair<float, int64_t>>>& truth_rows) {
  const int64_t stored = static_cast<int64_t>(ids.size());
  // Beside plain recall@10: recall of the true top 10 that are plausibly the same person (cosine >= 0.3); for
  // queries with few such faces, the rest of the top 10 are near-ties among strangers.
  int64_t found = 0, wanted = 0, found_close = 0, wanted_close = 0;
  std::vector<double> latency_ms;
  for (size_t q = 0; q < query_rows.size(); ++q) {
    const int64_t row = query_rows[q];
    const auto query = vectors.row(row);
    const std::string self = row < stored ? ids[row] : std::string();
    std::set<std::string> truth, close;
    for (const auto& [similarity, r] : truth_rows[q]) {
      truth.insert(ids[r]);
      if (similarity >= 0.3f) close.insert(ids[r]);
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
  // The index's own search alone, without the catalog lookups and the rerank by the catalog's vectors.
  std::vector<double> index_ms;
  for (const int64_t row : query_rows) {
    const auto query_start = std::chrono::steady_clock::now();
    if (!index.Nearest(vectors.row(row), 11).ok()) return std::nullopt;
    index_ms.push_back(Seconds(query_start) * 1000);
  }
  std::sort(index_ms.begin(), index_ms.end());
  return json{{"queries", latency_ms.size()},
              {"recall_at_10", static_cast<double>(found) / static_cast<double>(wanted)},
              {"recall_at_10_cosine_0_3", wanted_close ? static_cast<double>(found_close) / double(wanted_close) : 1.0},
              {"neighbours_cosine_0_3", wanted_close},
              {"median_ms", latency_ms[latency_ms.size() / 2]},
              {"index_only_median_ms", index_ms[index_ms.size() / 2]},
              {"p95_ms", latency_ms[latency_ms.size() * 95 / 100]}};
}

// --search-only: the catalog and index of an earlier run kept with --db, searched at each ef: --queries stored faces
// spread over the catalog, against brute force over every vector the catalog holds. An index file that is missing is
// built first (with --m and --ef-construction) and kept.
int SearchOnly(const Flags& flags, const std::vector<int>& ef_list) {
  VectorMatrix vectors;
  std::vector<std::string> ids;
  sqlite3* db = nullptr;
  sqlite3_open(flags.db.c_str(), &db);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT face_id, embedding FROM facefill_face_vectors ORDER BY rowid", -1, &stmt, nullptr);
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    ids.push_back(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)));
    const auto* v = static_cast<const float*>(sqlite3_column_blob(stmt, 1));
    const int dimension = sqlite3_column_bytes(stmt, 1) / static_cast<int>(sizeof(float));
    if (vectors.values.empty()) vectors.dimension = dimension;
    vectors.values.insert(vectors.values.end(), v, v + dimension);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  if (ids.empty() || flags.queries < 1) {
    std::cerr << (ids.empty() ? flags.db + " holds no face vectors" : std::string("--queries must be positive"))
              << "\n";
    return 1;
  }
  std::vector<int64_t> query_rows;
  const int64_t stride = std::max<int64_t>(1, static_cast<int64_t>(ids.size()) / flags.queries);
  for (int64_t row = stride / 2; row < static_cast<int64_t>(ids.size()) && query_rows.size() < size_t(flags.queries);
       row += stride) {
    query_rows.push_back(row);
  }
  const auto truth = ExactTop10(vectors, static_cast<int64_t>(ids.size()), query_rows);
  json out = json::array();
  for (int ef : ef_list) {
    FaceIndexOptions options = flags.cluster.index;
    options.ef_search = ef;
    options.huge_pages = true;  // steady-state searches, as `serve` has them
    auto index = FaceIndex::Open("sqlite:" + flags.db, options);
    if (!index.ok()) {
      std::cerr << index.status().ToString() << "\n";
      return 1;
    }
    auto search = MeasureSearch(**index, vectors, ids, query_rows, truth);
    if (!search) return 1;
    (*search)["ef_search"] = ef;
    out.push_back(*search);
    std::cerr << search->dump() << "\n";
  }
  std::cout << out.dump(2) << "\n";
  return 0;
}

// --incremental-only: the catalog an earlier run kept with --db (already clustered) gains `incremental` more synthetic
// faces, stored as a backfill would, which are then assigned incrementally.
int IncrementalOnly(const Flags& flags) {
  const std::string url = "sqlite:" + flags.db;
  auto catalog = OpenCatalog(url);
  auto vectors = OpenVectorStore("", url);
  if (!catalog.ok() || !vectors.ok()) {
    std::cerr << (!catalog.ok() ? catalog.status() : vectors.status()).ToString() << "\n";
    return 1;
  }
  auto stats = (*catalog)->Stats();
  if (!stats.ok()) {
    std::cerr << stats.status().ToString() << "\n";
    return 1;
  }
  const int64_t stored = stats->faces;
  if (stored < flags.faces) {
    std::cerr << flags.db << " holds " << stored << " faces, fewer than " << flags.faces << "\n";
    return 1;
  }
  // The same identities as the stored faces (same --faces, --seed); the new faces come after every stored one. The
  // synthetic set (2 GB at a million) is freed before the assignment, which a backfill's process would not hold.
  {
    const SyntheticFaces faces = GenerateSyntheticFaces(SyntheticOptions(flags, stored + flags.incremental));
    auto more = StoreSyntheticFaces(faces, stored, flags.incremental, **catalog, **vectors,
                                    fmt::format("incremental-{}-", stored));
    if (!more.ok()) {
      std::cerr << more.status().ToString() << "\n";
      return 1;
    }
  }
  catalog->reset();
  vectors->reset();
  ClusterOptions options = flags.cluster;
  options.full_run_share = 1.0;
  const double cpu = CpuSeconds();
  auto assigned = AssignNewFaces(url, options);
  if (!assigned.ok()) {
    std::cerr << assigned.status().ToString() << "\n";
    return 1;
  }
  json out = {{"stored_before", stored},      {"faces", flags.incremental},   {"assigned", assigned->assigned},
              {"waiting", assigned->waiting}, {"seconds", assigned->seconds}, {"cpu_seconds", CpuSeconds() - cpu},
              {"peak_rss_gb", PeakRssGb()}};
  std::cout << out.dump(2) << "\n";
  return 0;
}

int Run(const Flags& flags) {
  json out;
  out["faces"] = flags.faces;
  out["threads"] = flags.cluster.threads;
  const auto total_start = std::chrono::steady_clock::now();
  // Faces to store, then held-out ones: search queries first, then the incremental batch.
  auto start = std::chrono::steady_clock::now();
  const SyntheticFaces faces = GenerateSyntheticFaces(SyntheticOptions(flags, flags.faces + flags.incremental));
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
  index_options.huge_pages = true;  // as clustering and `serve` have it
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
  std::vector<int64_t> query_rows;
  for (int q = 0; q < flags.queries && q < flags.incremental; ++q) query_rows.push_back(flags.faces + q);
  auto search = MeasureSearch(**index, faces.vectors, *ids, query_rows,
                              ExactTop10(faces.vectors, static_cast<int64_t>(ids->size()), query_rows));
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
               "Only search the catalog and index an earlier run kept with --db, at each --ef-list value (a missing "
               "index is built with --m and --ef-construction)");
  app.add_option("--ef-list", ef_list, "ef values for --search-only")->capture_default_str();
  bool incremental_only = false;
  app.add_flag("--incremental-only", incremental_only,
               "Only add --incremental faces to the clustered catalog an earlier run kept with --db (same --faces, "
               "--seed) and assign them incrementally");
  CLI11_PARSE(app, argc, argv);
  if (search_only) return SearchOnly(flags, ef_list);
  if (incremental_only) return IncrementalOnly(flags);
  return Run(flags);
}
