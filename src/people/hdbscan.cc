// HDBSCAN*: minimum spanning forest of mutual reachability (Kruskal on a k-NN graph, or Prim over all pairs), single
// linkage tree, condensed tree and excess-of-mass selection. Mirrors the hdbscan package's _hdbscan_tree.pyx
// (condense_tree, compute_stability, get_clusters with allow_single_cluster=False).
#include "facefill/hdbscan.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace facefill {
namespace {

constexpr float kInfinity = std::numeric_limits<float>::infinity();

struct Edge {
  int32_t a, b;
  float weight;
};

class UnionFind {
 public:
  explicit UnionFind(int64_t n) : parent_(n) { std::iota(parent_.begin(), parent_.end(), int64_t{0}); }
  int64_t Find(int64_t x) {
    while (parent_[x] != x) {
      parent_[x] = parent_[parent_[x]];
      x = parent_[x];
    }
    return x;
  }
  // Makes `child`'s set part of `parent`'s (parent must be a root).
  void Attach(int64_t child, int64_t parent) { parent_[Find(child)] = parent; }

 private:
  std::vector<int64_t> parent_;
};

// The distance at which a merge happens, as the density lambda = 1 / distance; duplicates at distance 0 get a large
// finite lambda so stabilities stay finite. Components joined at infinity (no link within max_edge_distance) merge
// at `floor` = 1 / max_edge_distance, as if every longer distance were clipped to it: nothing is known beyond the
// cut, so a component is born there. (Born at lambda 0 instead, a component would outweigh any split inside it, and
// two people joined by one weak graph link would be kept together whenever the graph happened to hold that link.)
// A finite merge, even one whose mutual reachability lies beyond the cut (a face whose core distance is long), sits
// just above the floor: a link, however weak, counts for more than none.
double Lambda(float distance, double floor) {
  if (std::isinf(distance)) return floor;
  return distance > 0 ? std::max(floor * (1 + 1e-6), 1.0 / distance) : 1e12;
}

// From the edges of a spanning tree (n - 1 of them, sorted by weight) to cluster labels.
HdbscanResult LabelsFromSpanningTree(int64_t n, const std::vector<Edge>& tree, int min_cluster_size, double floor) {
  HdbscanResult result;
  result.labels.assign(n, -1);
  if (n < 2) return result;
  // Single linkage tree: internal node n + e merges the sets joined by edge e.
  const int64_t nodes = 2 * n - 1;
  std::vector<int64_t> left(n - 1), right(n - 1), size(nodes, 1);
  std::vector<float> height(n - 1);
  {
    UnionFind sets(nodes);
    for (int64_t e = 0; e < n - 1; ++e) {
      const int64_t ra = sets.Find(tree[e].a), rb = sets.Find(tree[e].b);
      const int64_t node = n + e;
      left[e] = ra;
      right[e] = rb;
      height[e] = tree[e].weight;
      size[node] = size[ra] + size[rb];
      sets.Attach(ra, node);
      sets.Attach(rb, node);
    }
  }
  // Condensed tree. Cluster 0 is the root; clusters are numbered in breadth-first order, so parents come first.
  std::vector<int64_t> cluster_parent{-1};
  std::vector<double> cluster_birth{floor};
  std::vector<double> stability{0.0};
  std::vector<int64_t> point_cluster(n, 0);    // the cluster each point falls out of
  std::vector<bool> point_unlinked(n, false);  // whether it fell out at an infinite distance: no link within the cut
  const int64_t root = nodes - 1;
  std::vector<std::pair<int64_t, int64_t>> queue{{root, 0}};  // (tree node, its condensed cluster)
  std::vector<int64_t> stack;
  auto fall_out = [&](int64_t subtree, int64_t cluster, double lambda, bool unlinked) {
    stack.assign(1, subtree);
    while (!stack.empty()) {
      const int64_t node = stack.back();
      stack.pop_back();
      if (node < n) {
        point_cluster[node] = cluster;
        point_unlinked[node] = unlinked;
        stability[cluster] += lambda - cluster_birth[cluster];
      } else {
        stack.push_back(left[node - n]);
        stack.push_back(right[node - n]);
      }
    }
  };
  for (size_t head = 0; head < queue.size(); ++head) {
    const auto [node, cluster] = queue[head];
    if (node < n) {  // a single point that stayed in its cluster to the end (min_cluster_size 1 only)
      fall_out(node, cluster, Lambda(0, floor), false);
      continue;
    }
    const int64_t e = node - n;
    const double lambda = Lambda(height[e], floor);
    const int64_t l = left[e], r = right[e];
    const bool l_big = size[l] >= min_cluster_size, r_big = size[r] >= min_cluster_size;
    if (l_big && r_big) {
      for (int64_t child : {l, r}) {
        const int64_t id = static_cast<int64_t>(cluster_parent.size());
        cluster_parent.push_back(cluster);
        cluster_birth.push_back(lambda);
        stability.push_back(0.0);
        stability[cluster] += (lambda - cluster_birth[cluster]) * static_cast<double>(size[child]);
        queue.emplace_back(child, id);
      }
    } else {
      for (int64_t child : {l, r}) {
        if (size[child] >= min_cluster_size) {
          queue.emplace_back(child, cluster);  // the cluster goes on, shedding the small side
        } else {
          fall_out(child, cluster, lambda, std::isinf(height[e]));
        }
      }
    }
  }
  // Excess of mass, bottom-up (children have larger ids than their parents); the root is never selected.
  const int64_t clusters = static_cast<int64_t>(cluster_parent.size());
  std::vector<double> child_sum(clusters, 0.0), best(clusters, 0.0);
  std::vector<bool> selected(clusters, false);
  for (int64_t c = clusters - 1; c >= 1; --c) {
    // A cluster with no stability (only joined at infinite distance) is never selected.
    if (child_sum[c] > stability[c] || stability[c] <= 0) {
      best[c] = child_sum[c];
    } else {
      best[c] = stability[c];
      selected[c] = true;
    }
    child_sum[cluster_parent[c]] += best[c];
  }
  // A selected cluster wins over everything below it; each cluster maps to its selected ancestor (or none).
  std::vector<int64_t> owner(clusters, -1);
  std::vector<int32_t> label_of(clusters, -1);
  for (int64_t c = 1; c < clusters; ++c) {
    const int64_t parent_owner = owner[cluster_parent[c]];
    if (parent_owner >= 0) {
      owner[c] = parent_owner;
    } else if (selected[c]) {
      owner[c] = c;
      label_of[c] = result.clusters++;
    }
  }
  for (int64_t p = 0; p < n; ++p) {
    // A point joined to others only at infinite distance (no link within max_edge_distance) is noise.
    const int64_t o = point_unlinked[p] ? -1 : owner[point_cluster[p]];
    result.labels[p] = o >= 0 ? label_of[o] : -1;
  }
  return result;
}

// Kruskal over `edges` (sorted here); the components left are chained at infinite distance.
HdbscanResult FromEdges(int64_t n, std::vector<Edge> edges, int min_cluster_size, double floor) {
  std::sort(edges.begin(), edges.end(), [](const Edge& x, const Edge& y) { return x.weight < y.weight; });
  UnionFind sets(n);
  std::vector<Edge> tree;
  tree.reserve(n > 0 ? n - 1 : 0);
  for (const Edge& e : edges) {
    const int64_t ra = sets.Find(e.a), rb = sets.Find(e.b);
    if (ra == rb) continue;
    sets.Attach(ra, rb);
    tree.push_back(e);
  }
  int64_t components = 0;
  int32_t first_root = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (sets.Find(i) != i) continue;
    ++components;
    if (first_root < 0) {
      first_root = static_cast<int32_t>(i);
    } else {
      tree.push_back({first_root, static_cast<int32_t>(i), kInfinity});
    }
  }
  HdbscanResult result = LabelsFromSpanningTree(n, tree, min_cluster_size, floor);
  result.forest_components = components;
  return result;
}

}  // namespace

Status HdbscanOptions::Validate() const {
  if (min_cluster_size < 2) return Status(StatusCode::kInvalidArgument, "min_cluster_size must be at least 2");
  if (min_samples < 1) return Status(StatusCode::kInvalidArgument, "min_samples must be at least 1");
  if (!(max_edge_distance > 0)) return Status(StatusCode::kInvalidArgument, "max_edge_distance must be positive");
  return Status::Ok();
}

Result<HdbscanResult> HdbscanFromGraph(const KnnGraph& graph, const HdbscanOptions& options) {
  FACEFILL_RETURN_IF_ERROR(options.Validate());
  if (graph.k < options.min_samples - 1) {
    return Status(StatusCode::kInvalidArgument, "the k-NN graph needs k >= min_samples - 1");
  }
  const int64_t n = graph.rows();
  const int k = graph.k;
  std::vector<float> core(n, 0.0f);
  if (options.min_samples > 1) {
    for (int64_t i = 0; i < n; ++i) core[i] = graph.distances[i * k + options.min_samples - 2];
  }
  std::vector<Edge> edges;
  edges.reserve(n * k);
  for (int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < k; ++j) {
      const int32_t other = graph.neighbors[i * k + j];
      if (other < 0 || other == i || graph.distances[i * k + j] > options.max_edge_distance) continue;
      edges.push_back({static_cast<int32_t>(i), other, std::max({graph.distances[i * k + j], core[i], core[other]})});
    }
  }
  return FromEdges(n, std::move(edges), options.min_cluster_size, 1.0 / options.max_edge_distance);
}

Result<HdbscanResult> HdbscanExact(const VectorMatrix& vectors, const HdbscanOptions& options, int threads) {
  FACEFILL_RETURN_IF_ERROR(options.Validate());
  const int64_t n = vectors.rows();
  const int d = vectors.dimension;
  std::vector<float> core(n, 0.0f);
  if (options.min_samples > 1 && n > 1) {
    KnnGraph knn = ExactKnnGraph(vectors, options.min_samples - 1, threads);
    for (int64_t i = 0; i < n; ++i) core[i] = knn.distances[i * knn.k + options.min_samples - 2];
  }
  // Prim: grow the tree from point 0, keeping each outside point's cheapest link into it.
  std::vector<Edge> tree;
  if (n > 0) tree.reserve(n - 1);
  std::vector<float> link(n, kInfinity);
  std::vector<int32_t> link_from(n, -1);
  std::vector<bool> in_tree(n, false);
  int64_t current = 0;
  for (int64_t added = 1; added < n; ++added) {
    in_tree[current] = true;
    const float* u = vectors.values.data() + current * d;
    int64_t next = -1;
    float next_weight = kInfinity;
    for (int64_t v = 0; v < n; ++v) {
      if (in_tree[v]) continue;
      const float dot = Dot(u, vectors.values.data() + v * d, d);
      const float distance = std::sqrt(std::max(0.0f, 2.0f - 2.0f * dot));
      const float weight =
          distance > options.max_edge_distance ? kInfinity : std::max({distance, core[current], core[v]});
      if (weight < link[v] || link_from[v] < 0) {  // unreachable points still need a (infinite) link
        link[v] = weight;
        link_from[v] = static_cast<int32_t>(current);
      }
      if (next < 0 || link[v] < next_weight) {
        next = v;
        next_weight = link[v];
      }
    }
    tree.push_back({link_from[next], static_cast<int32_t>(next), next_weight});
    current = next;
  }
  std::sort(tree.begin(), tree.end(), [](const Edge& x, const Edge& y) { return x.weight < y.weight; });
  HdbscanResult result = LabelsFromSpanningTree(n, tree, options.min_cluster_size, 1.0 / options.max_edge_distance);
  result.forest_components = n > 0 ? 1 : 0;
  for (const Edge& e : tree) result.forest_components += std::isinf(e.weight) ? 1 : 0;
  return result;
}

}  // namespace facefill
