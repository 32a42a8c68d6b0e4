// HDBSCAN* over face vectors: core distances, mutual reachability, minimum spanning forest, condensed tree and
// excess-of-mass selection, from a k-nearest-neighbour graph (approximate, scales) or from all pairs (exact, the
// reference for small sets). Distances are euclidean between L2-normalised vectors.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "facefill/status.h"

namespace facefill {

struct HdbscanOptions {
  int min_cluster_size = 5;  // smallest group reported as a cluster (the service's default)
  // Core distance = distance to the min_samples-th nearest point, the point itself counted first (as in
  // scikit-learn's and the hdbscan package's HDBSCAN). The service's default.
  int min_samples = 3;
  // Points farther apart than this are never linked directly (euclidean; 2 links everything): a prior that faces
  // this dissimilar are not one person, so weak chains cannot join clusters of different people.
  float max_edge_distance = 2.0f;
  Status Validate() const;
};

// Row-major n x dimension matrix of L2-normalised vectors.
struct VectorMatrix {
  int dimension = 0;
  std::vector<float> values;
  int64_t rows() const { return dimension ? static_cast<int64_t>(values.size()) / dimension : 0; }
  std::span<const float> row(int64_t i) const { return {values.data() + i * dimension, size_t(dimension)}; }
};

// Each point's k nearest other points, nearest first (euclidean distance). Rows with fewer than k neighbours are
// padded with index -1.
struct KnnGraph {
  int k = 0;
  std::vector<int32_t> neighbors;  // n * k
  std::vector<float> distances;    // n * k
  int64_t rows() const { return k ? static_cast<int64_t>(neighbors.size()) / k : 0; }
};

// Dot product, vectorised where the CPU allows.
float Dot(const float* a, const float* b, int dimension);

// The exact k-NN graph by brute force (blocked, on `threads` threads): the reference the index is measured against.
KnnGraph ExactKnnGraph(const VectorMatrix& vectors, int k, int threads);

// Cluster labels: 0..n_clusters-1 per point, -1 for noise.
struct HdbscanResult {
  std::vector<int32_t> labels;
  int32_t clusters = 0;
  int64_t forest_components = 0;  // components of the k-NN graph before they were joined at infinite distance
};

// Approximate HDBSCAN*: mutual reachability on the edges of `graph` (which needs k >= min_samples - 1), minimum
// spanning forest by Kruskal, components joined at infinite distance, then condensed tree and EOM.
Result<HdbscanResult> HdbscanFromGraph(const KnnGraph& graph, const HdbscanOptions& options);

// Exact HDBSCAN*: mutual reachability over all pairs, minimum spanning tree by Prim (O(n^2) time, O(n) memory).
Result<HdbscanResult> HdbscanExact(const VectorMatrix& vectors, const HdbscanOptions& options, int threads = 1);

}  // namespace facefill
