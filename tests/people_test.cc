// People and the face index on synthetic face vectors in a real SQLite catalog (no photos): HDBSCAN* exact vs
// approximate, the index against exact search and catching up with the catalog, stable cluster ids, incremental
// assignment, and labels that win over clustering.
#include "facefill/people.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "facefill/face_index.h"
#include "facefill/hdbscan.h"
#include "facefill/synthetic_faces.h"
#include "index/int8_vectors.h"
#include "test_support.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// True when the two labelings are the same partition (noise equal, clusters equal up to renaming).
bool SamePartition(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  if (a.size() != b.size()) return false;
  std::map<int32_t, int32_t> ab, ba;
  for (size_t i = 0; i < a.size(); ++i) {
    if ((a[i] < 0) != (b[i] < 0)) return false;
    if (a[i] < 0) continue;
    if (ab.try_emplace(a[i], b[i]).first->second != b[i]) return false;
    if (ba.try_emplace(b[i], a[i]).first->second != a[i]) return false;
  }
  return true;
}

SyntheticFaces SmallSet(int64_t faces, uint64_t seed = 7) {
  SyntheticFacesOptions options;
  options.faces = faces;
  options.identities = faces / 20;
  options.seed = seed;
  return GenerateSyntheticFaces(options);
}

TEST(HdbscanTest, FindsTightGroupsAndLeavesLonePointsAsNoise) {
  // Three groups of six points around centres at cosine 0.64 of each other, and three lone points orthogonal to
  // them: the groups join each other before any lone point joins them, so the lone points fall out of the root.
  VectorMatrix m;
  m.dimension = 16;
  std::mt19937 rng(3);
  std::normal_distribution<float> jitter(0.0f, 0.03f);
  std::vector<int32_t> truth;
  auto add = [&](std::vector<float> v) {
    for (auto& x : v) x += jitter(rng);
    float norm = 0;
    for (float x : v) norm += x * x;
    for (auto& x : v) m.values.push_back(x / std::sqrt(norm));
  };
  for (int group = 0; group < 3; ++group) {
    for (int i = 0; i < 6; ++i) {
      std::vector<float> v(16, 0.0f);
      v[0] = 1.0f;
      v[1 + group] = 0.75f;
      add(v);
      truth.push_back(group);
    }
  }
  for (int lone = 0; lone < 3; ++lone) {
    std::vector<float> v(16, 0.0f);
    v[8 + 2 * lone] = 1.0f;
    add(v);
    truth.push_back(-1);
  }
  HdbscanOptions options{.min_cluster_size = 5, .min_samples = 3};
  auto exact = HdbscanExact(m, options);
  ASSERT_TRUE(exact.ok()) << exact.status().ToString();
  EXPECT_EQ(exact->clusters, 3);
  EXPECT_TRUE(SamePartition(exact->labels, truth));
  // With k above the group size the graph holds the links between groups, and finds the same.
  auto graph = HdbscanFromGraph(ExactKnnGraph(m, 10, 1), options);
  ASSERT_TRUE(graph.ok());
  EXPECT_TRUE(SamePartition(graph->labels, truth));
}

TEST(HdbscanTest, GraphOverAllPairsIsTheExactResult) {
  auto faces = SmallSet(600);
  HdbscanOptions options;
  auto exact = HdbscanExact(faces.vectors, options, 2);
  ASSERT_TRUE(exact.ok());
  auto complete = HdbscanFromGraph(ExactKnnGraph(faces.vectors, 599, 2), options);
  ASSERT_TRUE(complete.ok());
  EXPECT_GT(exact->clusters, 5);
  EXPECT_TRUE(SamePartition(exact->labels, complete->labels));
}

TEST(HdbscanTest, ApproximateKnnGraphAgreesWithExactOnSyntheticFaces) {
  auto faces = SmallSet(2000);
  HdbscanOptions options;
  auto exact = HdbscanExact(faces.vectors, options, 2);
  ASSERT_TRUE(exact.ok());
  auto approximate = HdbscanFromGraph(ExactKnnGraph(faces.vectors, 15, 2), options);
  ASSERT_TRUE(approximate.ok());
  const auto e = MeasureClustering(exact->labels, faces.identity);
  const auto a = MeasureClustering(approximate->labels, faces.identity);
  EXPECT_NEAR(a.bcubed_f, e.bcubed_f, 0.01);
  EXPECT_GE(e.pairwise_precision, 0.98);
  EXPECT_GE(a.pairwise_precision, 0.98);
  // Against each other: the approximate clustering measured with the exact one as the truth.
  auto exact_as_truth = exact->labels;
  for (size_t i = 0; i < exact_as_truth.size(); ++i) {
    if (exact_as_truth[i] < 0) exact_as_truth[i] = -2 - static_cast<int32_t>(i);  // noise: singletons
  }
  EXPECT_GE(MeasureClustering(approximate->labels, exact_as_truth).bcubed_f, 0.98);
}

TEST(HdbscanTest, RejectsBadOptions) {
  VectorMatrix m;
  EXPECT_EQ(HdbscanExact(m, {.min_cluster_size = 1}).status().code(), StatusCode::kInvalidArgument);
  KnnGraph graph;
  graph.k = 1;
  EXPECT_EQ(HdbscanFromGraph(graph, {.min_samples = 5}).status().code(), StatusCode::kInvalidArgument);
}

// The index stores 8-bit codes: each component within half a step (the largest component / 127) of the float, codes
// within [-127, 127], and the vectorised dot product equal to the portable one (the same integer sum) and to the
// dot product of the decoded vectors.
TEST(Int8VectorsTest, CodesRoundTripAndDotProductsAgreeWithFloats) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 0.05f);
  const int d = 515;  // not a multiple of the vector width: the tails are exercised too
  std::vector<float> a(d), b(d);
  for (int i = 0; i < d; ++i) a[i] = normal(rng), b[i] = normal(rng);
  a[7] = -0.4f;  // the largest magnitude sets the step, and maps to -127, never -128
  std::vector<char> ca(int8::CodeSize(d)), cb(int8::CodeSize(d));
  ASSERT_EQ(ca.size(), static_cast<size_t>(d) + 4);
  int8::Encode(a.data(), d, ca.data());
  int8::Encode(b.data(), d, cb.data());
  EXPECT_EQ(static_cast<int8_t>(ca[7]), -127);
  std::vector<float> back(d), back_b(d);
  int8::Decode(ca.data(), d, back.data());
  int8::Decode(cb.data(), d, back_b.data());
  const float step = 0.4f / 127;
  double exact = 0, decoded = 0;
  for (int i = 0; i < d; ++i) {
    EXPECT_LE(std::abs(back[i] - a[i]), step / 2 + 1e-7f) << i;
    exact += double(a[i]) * b[i];
    decoded += double(back[i]) * back_b[i];
  }
  EXPECT_FLOAT_EQ(int8::Dot(ca.data(), cb.data(), d), int8::DotPortable(ca.data(), cb.data(), d));
  EXPECT_NEAR(int8::Dot(ca.data(), cb.data(), d), decoded, 1e-5);
  EXPECT_NEAR(int8::Dot(ca.data(), cb.data(), d), exact, 2e-3);
  // A zero vector has step 0 and dot product 0 with anything.
  std::vector<float> zero(d, 0.0f);
  std::vector<char> cz(int8::CodeSize(d));
  int8::Encode(zero.data(), d, cz.data());
  EXPECT_EQ(int8::Dot(cz.data(), ca.data(), d), 0.0f);
}

// The index built in memory for a PostgreSQL catalog's run: its k-NN graph agrees with the exact one, it answers by
// the labels it was given, and it has no catalog to search by face.
TEST(InMemoryFaceIndexTest, GraphAgreesWithExactAndLabelsAreTheCallers) {
  const SyntheticFaces faces = SmallSet(2000, 11);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < 2000; ++i) labels.push_back(1000 + 3 * i);  // not positions
  FaceIndexOptions options;
  options.ef_search = 64;
  auto index = FaceIndex::InMemory(faces.vectors, labels, options);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ((*index)->size(), 2000);
  EXPECT_EQ((*index)->dimension(), faces.vectors.dimension);
  auto graph = (*index)->NeighborGraph(labels, 15, 2);
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  const KnnGraph truth = ExactKnnGraph(faces.vectors, 15, 2);
  int64_t found = 0;
  for (int64_t i = 0; i < 2000; ++i) {
    std::set<int32_t> exact(truth.neighbors.begin() + i * 15, truth.neighbors.begin() + (i + 1) * 15);
    for (int j = 0; j < 15; ++j) found += exact.count(graph->neighbors[i * 15 + j]);
  }
  EXPECT_GE(static_cast<double>(found) / (2000.0 * 15), 0.97);
  auto nearest = (*index)->Nearest(faces.vectors.row(5), 1);
  ASSERT_TRUE(nearest.ok());
  ASSERT_EQ(nearest->size(), 1u);
  EXPECT_EQ(nearest->front().vector_row, labels[5]);
  auto kept = (*index)->StoredVector(labels[9]);
  ASSERT_TRUE(kept.ok());
  EXPECT_NEAR((*kept)[0], faces.vectors.row(9)[0], 2e-3);
  EXPECT_EQ((*index)->StoredVector(0).status().code(), StatusCode::kNotFound);
  EXPECT_EQ((*index)->Search(Embedding(faces.vectors.row(0).begin(), faces.vectors.row(0).end()), 3, 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(FaceIndex::InMemory(faces.vectors, {1, 2}, options).status().code(), StatusCode::kInvalidArgument);
}

TEST(ClusteringQualityTest, CountsMergesSplitsAndNoise) {
  //             identity: 0 0 0 1 1 2
  const std::vector<int32_t> truth{0, 0, 0, 1, 1, 2};
  const std::vector<int32_t> labels{0, 0, 1, 1, 1, -1};
  const auto q = MeasureClustering(labels, truth);
  EXPECT_EQ(q.clusters, 2);
  EXPECT_EQ(q.merged_clusters, 1);   // cluster 1 holds identities 0 and 1
  EXPECT_EQ(q.split_identities, 1);  // identity 0 in clusters 0 and 1
  EXPECT_NEAR(q.noise_share, 1.0 / 6, 1e-9);
  EXPECT_NEAR(q.pairwise_precision, 0.5, 1e-9);  // pairs: (0,1) same; (2,3) (2,4) differ, (3,4) same
}

// A real SQLite catalog and vector store holding synthetic faces.
class SyntheticCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = "sqlite:" + (dir_ / "facefill.db").string();
    auto catalog = OpenCatalog(url_);
    ASSERT_TRUE(catalog.ok()) << catalog.status().ToString();
    catalog_ = std::move(catalog).value();
    auto vectors = OpenVectorStore("", url_);
    ASSERT_TRUE(vectors.ok());
    vectors_ = std::move(vectors).value();
  }

  std::vector<std::string> Store(const SyntheticFaces& faces, int64_t first, int64_t count) {
    auto ids = StoreSyntheticFaces(faces, first, count, *catalog_, *vectors_);
    EXPECT_TRUE(ids.ok()) << ids.status().ToString();
    return ids.ok() ? *ids : std::vector<std::string>{};
  }

  // face id -> (cluster id, person id)
  std::map<std::string, std::pair<std::string, std::string>> Assignments() {
    std::map<std::string, std::pair<std::string, std::string>> out;
    // Through SQLite directly: every face, clustered or not.
    sqlite3* db = nullptr;
    sqlite3_open((dir_ / "facefill.db").c_str(), &db);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, "SELECT id, COALESCE(cluster_id, ''), COALESCE(person_id, '') FROM face_instances", -1,
                       &stmt, nullptr);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      auto text = [&](int c) { return std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, c))); };
      out[text(0)] = {text(1), text(2)};
    }
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return out;
  }

  TempDir dir_;
  std::string url_;
  std::unique_ptr<Catalog> catalog_;
  std::unique_ptr<VectorStore> vectors_;
};

TEST_F(SyntheticCatalogTest, IndexMatchesExactSearchAndCatchesUpWithTheCatalog) {
  auto faces = SmallSet(4000);
  auto ids = Store(faces, 0, 3000);
  auto index = FaceIndex::Open(url_);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_TRUE((*index)->last_update().rebuilt);
  EXPECT_EQ((*index)->size(), 3000);
  EXPECT_TRUE(fs::exists(FaceIndex::IndexPath(url_)));
  // recall@10 against exact search.
  int64_t found = 0, wanted = 0;
  for (int64_t q = 3000; q < 3100; ++q) {
    Embedding query(faces.vectors.row(q).begin(), faces.vectors.row(q).end());
    auto exact = vectors_->Search(query, 10, -1.0f);
    auto approximate = (*index)->Search(query, 10, -1.0f);
    ASSERT_TRUE(exact.ok() && approximate.ok());
    std::set<std::string> truth;
    for (const auto& m : *exact) truth.insert(m.point_id);
    for (const auto& m : *approximate) found += truth.count(m.point_id);
    wanted += static_cast<int64_t>(truth.size());
  }
  EXPECT_GE(static_cast<double>(found) / static_cast<double>(wanted), 0.99);

  // The clustering graph from the index's own copies: each face's 15 nearest among the stored, against brute force.
  std::vector<int64_t> rows;
  {
    sqlite3* db = nullptr;
    sqlite3_open((dir_ / "facefill.db").c_str(), &db);
    sqlite3_stmt* stmt = nullptr;
    sqlite3_prepare_v2(db, "SELECT rowid FROM facefill_face_vectors ORDER BY rowid", -1, &stmt, nullptr);
    while (sqlite3_step(stmt) == SQLITE_ROW) rows.push_back(sqlite3_column_int64(stmt, 0));
    sqlite3_finalize(stmt);
    sqlite3_close(db);
  }
  ASSERT_EQ(rows.size(), 3000u);  // stored in face order, one vector per face
  auto graph = (*index)->NeighborGraph(rows, 15, 2);
  ASSERT_TRUE(graph.ok()) << graph.status().ToString();
  VectorMatrix stored{faces.vectors.dimension, {}};
  stored.values.assign(faces.vectors.values.begin(), faces.vectors.values.begin() + 3000 * stored.dimension);
  const KnnGraph truth_graph = ExactKnnGraph(stored, 15, 2);
  int64_t graph_found = 0;
  for (int64_t i = 0; i < 3000; ++i) {
    std::set<int32_t> truth(truth_graph.neighbors.begin() + i * 15, truth_graph.neighbors.begin() + (i + 1) * 15);
    for (int j = 0; j < 15; ++j) {
      const int32_t n = graph->neighbors[i * 15 + j];
      EXPECT_NE(n, i);
      graph_found += truth.count(n);
      if (j > 0) {
        EXPECT_LE(graph->distances[i * 15 + j - 1], graph->distances[i * 15 + j]);
      }
    }
  }
  EXPECT_GE(static_cast<double>(graph_found) / (3000.0 * 15), 0.97);
  auto kept = (*index)->StoredVector(rows[7]);
  ASSERT_TRUE(kept.ok());
  // 8-bit codes: each component within half a step of the stored float.
  float largest = 0;
  for (int j = 0; j < stored.dimension; ++j) largest = std::max(largest, std::abs(stored.row(7)[j]));
  for (int j = 0; j < stored.dimension; ++j) EXPECT_NEAR((*kept)[j], stored.row(7)[j], largest / 254 + 1e-6f);
  EXPECT_EQ((*index)->StoredVector(999999).status().code(), StatusCode::kNotFound);

  // Faces stored since are added on open; nothing is rebuilt.
  auto more = Store(faces, 3000, 500);
  index = FaceIndex::Open(url_);
  ASSERT_TRUE(index.ok());
  EXPECT_FALSE((*index)->last_update().rebuilt);
  EXPECT_EQ((*index)->last_update().added, 500);
  EXPECT_EQ((*index)->size(), 3500);
  EXPECT_TRUE((*index)->last_update().rewritten);  // links of most of the 3,000 changed: more than 0.2 of the file
  // A stored face is its own nearest neighbour.
  Embedding own(faces.vectors.row(3200).begin(), faces.vectors.row(3200).end());
  auto self = (*index)->Search(own, 1, 0.0f);
  ASSERT_TRUE(self.ok());
  ASSERT_EQ(self->size(), 1u);
  EXPECT_EQ(self->front().point_id, more[200]);

  // Deleted vectors are marked deleted and never returned.
  ASSERT_TRUE(vectors_->Delete({more[200]}).ok());
  index = FaceIndex::Open(url_);
  ASSERT_TRUE(index.ok());
  EXPECT_EQ((*index)->last_update().deleted, 1);
  EXPECT_EQ((*index)->size(), 3499);
  self = (*index)->Search(own, 5, 0.0f);
  ASSERT_TRUE(self.ok());
  for (const auto& m : *self) EXPECT_NE(m.point_id, more[200]);

  // That open wrote only the change (the deleted mark) to the delta file; the next open applies it and has nothing
  // to do.
  EXPECT_TRUE((*index)->last_update().delta_written);
  EXPECT_FALSE((*index)->last_update().rewritten);
  const std::string delta = FaceIndex::IndexPath(url_) + ".delta";
  ASSERT_TRUE(std::filesystem::exists(delta));
  index = FaceIndex::Open(url_);
  ASSERT_TRUE(index.ok());
  EXPECT_FALSE((*index)->last_update().rebuilt);
  EXPECT_EQ((*index)->last_update().added, 0);
  EXPECT_EQ((*index)->last_update().deleted, 0);
  EXPECT_EQ((*index)->size(), 3499);
  self = (*index)->Search(own, 5, 0.0f);
  ASSERT_TRUE(self.ok());
  for (const auto& m : *self) EXPECT_NE(m.point_id, more[200]);

  // Faces added since the file was written go to the delta too: each open adds only what is new, and faces from an
  // earlier delta are found.
  auto few = Store(faces, 3500, 10);
  index = FaceIndex::Open(url_);
  ASSERT_TRUE(index.ok());
  EXPECT_EQ((*index)->last_update().added, 10);
  EXPECT_TRUE((*index)->last_update().delta_written);
  auto later = Store(faces, 3510, 10);
  index = FaceIndex::Open(url_);
  ASSERT_TRUE(index.ok());
  EXPECT_EQ((*index)->last_update().added, 10);
  EXPECT_GT((*index)->last_update().delta_bytes, 20 * 516);  // both rounds' elements: the delta is cumulative
  index = FaceIndex::Open(url_);
  ASSERT_TRUE(index.ok());
  EXPECT_EQ((*index)->last_update().added, 0);
  EXPECT_EQ((*index)->size(), 3519);
  for (const auto& [row, id] : {std::pair{3505, few[5]}, std::pair{3517, later[7]}}) {
    Embedding added(faces.vectors.row(row).begin(), faces.vectors.row(row).end());
    auto nearest = (*index)->Search(added, 1, 0.0f);
    ASSERT_TRUE(nearest.ok());
    ASSERT_EQ(nearest->size(), 1u);
    EXPECT_EQ(nearest->front().point_id, id);
    EXPECT_NEAR(nearest->front().similarity, 1.0f, 1e-5);  // reranked by the catalog's floats: exact
  }

  // A record cut short (a crash while appending) is ignored and replaced; the records before it still count.
  std::filesystem::resize_file(delta, std::filesystem::file_size(delta) - 50);
  index = FaceIndex::Open(url_);
  ASSERT_TRUE(index.ok());
  EXPECT_FALSE((*index)->last_update().rebuilt);
  EXPECT_EQ((*index)->last_update().added, 10);
  EXPECT_EQ((*index)->last_update().deleted, 0);
  EXPECT_TRUE((*index)->last_update().delta_written);
  index = FaceIndex::Open(url_);
  ASSERT_TRUE(index.ok());
  EXPECT_EQ((*index)->last_update().added, 0);
  EXPECT_EQ((*index)->size(), 3519);

  // A damaged delta is ignored from the damaged record on: here the first, so what they all held is added again.
  {
    std::fstream file(delta, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(40);
    file << "damaged";
  }
  index = FaceIndex::Open(url_);
  ASSERT_TRUE(index.ok());
  EXPECT_FALSE((*index)->last_update().rebuilt);
  EXPECT_EQ((*index)->last_update().added, 20);
  EXPECT_EQ((*index)->last_update().deleted, 1);
  EXPECT_EQ((*index)->size(), 3519);

  // rewrite_share 0: every change rewrites the whole file, which drops the delta; a delta kept from before that
  // belongs to the old file and is ignored.
  std::filesystem::copy_file(delta, delta + ".old");
  Store(faces, 3520, 1);
  FaceIndexOptions rewrite_every_change;
  rewrite_every_change.rewrite_share = 0;
  index = FaceIndex::Open(url_, rewrite_every_change);
  ASSERT_TRUE(index.ok());
  EXPECT_EQ((*index)->last_update().added, 1);
  EXPECT_TRUE((*index)->last_update().rewritten);
  EXPECT_FALSE(std::filesystem::exists(delta));
  std::filesystem::rename(delta + ".old", delta);
  index = FaceIndex::Open(url_);
  ASSERT_TRUE(index.ok());
  EXPECT_FALSE((*index)->last_update().rebuilt);
  EXPECT_EQ((*index)->last_update().added, 0);
  EXPECT_EQ((*index)->last_update().deleted, 0);
  EXPECT_EQ((*index)->size(), 3520);

  // A file that is not an index is rebuilt.
  index->reset();
  { std::ofstream(FaceIndex::IndexPath(url_), std::ios::trunc) << "not an index"; }
  index = FaceIndex::Open(url_);
  ASSERT_TRUE(index.ok());
  EXPECT_TRUE((*index)->last_update().rebuilt);
  EXPECT_EQ((*index)->size(), 3520);

  // The search store answers through the index, and like exact search.
  auto searched = WithFaceIndex(std::move(vectors_), url_);
  Embedding query(faces.vectors.row(3900).begin(), faces.vectors.row(3900).end());
  auto via_index = searched->Search(query, 1, 0.0f);
  ASSERT_TRUE(via_index.ok());
  auto exact_store = OpenVectorStore("", url_);
  ASSERT_TRUE(exact_store.ok());
  auto exact = (*exact_store)->Search(query, 1, 0.0f);
  ASSERT_TRUE(exact.ok());
  ASSERT_EQ(via_index->size(), 1u);
  EXPECT_EQ(via_index->front().point_id, exact->front().point_id);
}

TEST_F(SyntheticCatalogTest, ClustersKeepTheirIdsAndNewFacesJoinThem) {
  auto faces = SmallSet(2400, 11);
  auto ids = Store(faces, 0, 2000);
  auto first = ClusterFaces(url_);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->faces, 2000);
  EXPECT_GT(first->clusters, 10);
  EXPECT_EQ(first->new_ids, first->clusters);

  auto truth = std::vector<int32_t>(faces.identity.begin(), faces.identity.begin() + 2000);
  auto assigned = Assignments();
  std::map<std::string, int32_t> label_of;
  std::vector<int32_t> labels;
  for (const auto& id : ids) {
    const auto& cluster = assigned[id].first;
    if (cluster.empty()) {
      labels.push_back(-1);
      continue;
    }
    labels.push_back(label_of.try_emplace(cluster, static_cast<int32_t>(label_of.size())).first->second);
  }
  const auto quality = MeasureClustering(labels, truth);
  EXPECT_GE(quality.pairwise_precision, 0.98);
  EXPECT_GE(quality.bcubed_f, 0.9);

  // A second run keeps every id and changes nothing.
  auto second = ClusterFaces(url_);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->kept_ids, second->clusters);
  EXPECT_EQ(second->new_ids, 0);
  EXPECT_EQ(second->retired_ids, 0);
  EXPECT_EQ(second->changed_faces, 0);
  EXPECT_EQ(Assignments(), assigned);

  // The exact variant finds the same clusters.
  ClusterOptions exact_options;
  exact_options.exact = true;
  auto exact = ClusterFaces(url_, exact_options);
  ASSERT_TRUE(exact.ok());
  EXPECT_EQ(exact->clusters, first->clusters);
  EXPECT_GE(exact->kept_ids, first->clusters - 1);

  // New faces: assigned to a cluster made of their identity's faces, or left waiting.
  std::map<int32_t, int> clustered_faces_of_identity;
  std::map<std::string, std::map<int32_t, int>> identities_in_cluster;
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto& cluster = assigned[ids[i]].first;
    if (cluster.empty()) continue;
    ++clustered_faces_of_identity[truth[i]];
    ++identities_in_cluster[cluster][truth[i]];
  }
  auto fresh = Store(faces, 2000, 400);
  ClusterOptions incremental;
  incremental.full_run_share = 1.0;  // never fall back to a full run here
  auto report = AssignNewFaces(url_, incremental);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_FALSE(report->ran_full);
  EXPECT_EQ(report->pending, 400);
  EXPECT_EQ(report->assigned + report->waiting, 400);
  assigned = Assignments();
  // Right: the cluster's majority is the face's identity. Wrong: the cluster holds no face of its identity.
  int64_t right = 0, wrong = 0, joinable = 0;
  for (size_t i = 0; i < fresh.size(); ++i) {
    const int32_t identity = faces.identity[2000 + i];
    if (clustered_faces_of_identity[identity] >= 5) ++joinable;
    const auto& cluster = assigned[fresh[i]].first;
    if (cluster.empty()) continue;
    const auto& members = identities_in_cluster[cluster];
    auto majority = std::max_element(members.begin(), members.end(),
                                     [](const auto& a, const auto& b) { return a.second < b.second; });
    if (majority != members.end() && majority->first == identity) ++right;
    if (!members.count(identity)) ++wrong;
  }
  EXPECT_EQ(wrong, 0);
  EXPECT_GE(right, joinable * 9 / 10) << "of " << joinable << " new faces whose identity has a cluster";

  // Run again: only the waiting ones are pending; with a share of 0 they trigger a full run.
  incremental.full_run_share = 0.0;
  const int64_t assigned_before = report->assigned;
  report = AssignNewFaces(url_, incremental);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->pending, 400 - assigned_before);
  EXPECT_EQ(report->ran_full, report->waiting > 0);
}

TEST_F(SyntheticCatalogTest, NamedPersonsAreNeverMergedAndKeepTheirFaces) {
  // Ten ordinary identities, and a look-alike pair forced close: centres at cosine 0.9.
  SyntheticFacesOptions options;
  options.faces = 200;
  options.identities = 10;
  options.zipf_exponent = 0;
  options.look_alike_share = 0;
  auto faces = GenerateSyntheticFaces(options);
  const int d = faces.vectors.dimension;
  std::mt19937_64 rng(5);
  std::normal_distribution<float> normal;
  auto unit = [&](std::vector<float> v) {
    float norm = 0;
    for (float x : v) norm += x * x;
    for (auto& x : v) x /= std::sqrt(norm);
    return v;
  };
  auto random_unit = [&] {
    std::vector<float> v(d);
    for (auto& x : v) x = normal(rng);
    return unit(v);
  };
  const auto ada = random_unit();
  auto bea = random_unit();
  for (int j = 0; j < d; ++j) bea[j] = 0.9f * ada[j] + std::sqrt(1 - 0.81f) * bea[j];
  bea = unit(bea);
  for (int identity = 0; identity < 2; ++identity) {
    for (int i = 0; i < 20; ++i) {
      auto noise = random_unit();
      std::vector<float> v(d);
      for (int j = 0; j < d; ++j) v[j] = std::sqrt(0.7f) * (identity ? bea : ada)[j] + std::sqrt(0.3f) * noise[j];
      v = unit(v);
      faces.vectors.values.insert(faces.vectors.values.end(), v.begin(), v.end());
      faces.identity.push_back(100 + identity);
    }
  }
  auto ids = Store(faces, 0, 240);
  auto first = ClusterFaces(url_);
  ASSERT_TRUE(first.ok());
  auto assigned = Assignments();
  // The pair is close enough that clustering alone puts them together.
  std::set<std::string> pair_clusters;
  for (size_t i = 200; i < 240; ++i) pair_clusters.insert(assigned[ids[i]].first);
  EXPECT_EQ(pair_clusters.size(), 1u) << "the look-alike pair is not forced close enough to merge";

  // Three faces of each are split out and named.
  auto ada_cluster = SplitFaces(url_, {ids[200], ids[201], ids[202]});
  auto bea_cluster = SplitFaces(url_, {ids[220], ids[221], ids[222]});
  ASSERT_TRUE(ada_cluster.ok() && bea_cluster.ok());
  auto ada_id = NameCluster(url_, *ada_cluster, "Ada");
  auto bea_id = NameCluster(url_, *bea_cluster, "Bea");
  ASSERT_TRUE(ada_id.ok() && bea_id.ok()) << ada_id.status().ToString();
  EXPECT_NE(*ada_id, *bea_id);
  EXPECT_EQ(MergeClusters(url_, *ada_cluster, *bea_cluster).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(NameCluster(url_, "no-such-cluster", "Ada").status().code(), StatusCode::kNotFound);

  // Re-clustering: the persons stay apart and every labelled face keeps its person.
  auto again = ClusterFaces(url_);
  ASSERT_TRUE(again.ok());
  EXPECT_GE(again->split_by_label, 1);
  assigned = Assignments();
  std::map<std::string, std::set<std::string>> persons_in;
  for (const auto& [face, value] : assigned) {
    if (!value.second.empty() && !value.first.empty()) persons_in[value.first].insert(value.second);
  }
  for (const auto& [cluster, persons] : persons_in) EXPECT_EQ(persons.size(), 1u) << cluster;
  for (int i : {200, 201, 202}) EXPECT_EQ(assigned[ids[i]].second, *ada_id);
  for (int i : {220, 221, 222}) EXPECT_EQ(assigned[ids[i]].second, *bea_id);
  // Most of each identity follows its named faces.
  int ada_with_ada = 0, bea_with_bea = 0;
  const auto ada_home = assigned[ids[200]].first, bea_home = assigned[ids[220]].first;
  EXPECT_NE(ada_home, bea_home);
  for (int i = 200; i < 220; ++i) ada_with_ada += assigned[ids[i]].first == ada_home;
  for (int i = 220; i < 240; ++i) bea_with_bea += assigned[ids[i]].first == bea_home;
  EXPECT_GE(ada_with_ada, 16);
  EXPECT_GE(bea_with_bea, 16);

  // The listing suggests each person for their cluster; naming the same name again reuses the person.
  auto people = ListPeople(url_);
  ASSERT_TRUE(people.ok());
  std::map<std::string, std::string> suggested;
  for (const auto& p : *people) {
    if (!p.person_id.empty()) suggested[p.cluster_id] = p.person_name;
    EXPECT_FALSE(p.path.empty());
    EXPECT_GE(p.faces, p.photos > 0 ? 1 : 0);
  }
  EXPECT_EQ(suggested[ada_home], "Ada");
  EXPECT_EQ(suggested[bea_home], "Bea");
  for (size_t i = 1; i < people->size(); ++i) EXPECT_GE((*people)[i - 1].faces, (*people)[i].faces);
  auto again_ada = NameCluster(url_, ada_home, "Ada");
  ASSERT_TRUE(again_ada.ok());
  EXPECT_EQ(*again_ada, *ada_id);
  // An unnamed cluster merges into a named one.
  std::string unnamed;
  for (const auto& p : *people) {
    if (p.person_id.empty()) unnamed = p.cluster_id;
  }
  ASSERT_FALSE(unnamed.empty());
  EXPECT_TRUE(MergeClusters(url_, ada_home, unnamed).ok());
  auto after = ListPeople(url_);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), people->size() - 1);
}

}  // namespace
}  // namespace facefill
