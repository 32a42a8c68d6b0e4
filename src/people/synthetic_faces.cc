// GenerateSyntheticFaces and MeasureClustering (BCubed, pairwise precision, merges, splits, noise).
#include "facefill/synthetic_faces.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "people_catalog.h"

namespace facefill {
namespace {

void Normalise(float* v, int dimension) {
  double norm = 0;
  for (int i = 0; i < dimension; ++i) norm += double(v[i]) * v[i];
  const float scale = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0f;
  for (int i = 0; i < dimension; ++i) v[i] *= scale;
}

std::vector<float> RandomUnit(std::mt19937_64& rng, int dimension) {
  std::normal_distribution<float> normal;
  std::vector<float> v(dimension);
  for (auto& x : v) x = normal(rng);
  Normalise(v.data(), dimension);
  return v;
}

}  // namespace

SyntheticFaces GenerateSyntheticFaces(const SyntheticFacesOptions& options) {
  std::mt19937_64 rng(options.seed);
  const int d = options.dimension;
  const int64_t identities = options.identities > 0 ? options.identities : std::max<int64_t>(1, options.faces / 20);
  // Centres; a look-alike's centre is cos * other + sin * fresh direction.
  std::vector<std::vector<float>> centres;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int64_t i = 0; i < identities; ++i) {
    auto centre = RandomUnit(rng, d);
    if (i > 0 && unit(rng) < options.look_alike_share) {
      const auto& other = centres[static_cast<size_t>(unit(rng) * double(i)) % centres.size()];
      const float c = static_cast<float>(options.look_alike_cosine), s = std::sqrt(1 - c * c);
      for (int j = 0; j < d; ++j) centre[j] = c * other[j] + s * centre[j];
      Normalise(centre.data(), d);
    }
    centres.push_back(std::move(centre));
  }
  // Zipf sizes, at least one face each while faces last.
  std::vector<double> weight(identities);
  for (int64_t i = 0; i < identities; ++i) weight[i] = 1.0 / std::pow(double(i + 1), options.zipf_exponent);
  const double total = std::accumulate(weight.begin(), weight.end(), 0.0);
  std::vector<int64_t> size(identities);
  int64_t assigned = 0;
  for (int64_t i = 0; i < identities; ++i) {
    size[i] = std::max<int64_t>(1, std::llround(double(options.faces) * weight[i] / total));
    assigned += size[i];
  }
  for (int64_t i = identities - 1; assigned > options.faces && i >= 0; --i) {
    const int64_t cut = std::min(size[i], assigned - options.faces);
    size[i] -= cut;
    assigned -= cut;
  }
  size[0] += options.faces - assigned;

  SyntheticFaces out;
  out.identities = identities;
  out.vectors.dimension = d;
  out.vectors.values.resize(options.faces * d);
  out.identity.reserve(options.faces);
  std::uniform_real_distribution<double> same(options.min_same_person, options.max_same_person);
  int64_t row = 0;
  for (int64_t i = 0; i < identities; ++i) {
    for (int64_t f = 0; f < size[i]; ++f, ++row) {
      const double t = same(rng);
      const float a = static_cast<float>(std::sqrt(t)), b = static_cast<float>(std::sqrt(1 - t));
      auto noise = RandomUnit(rng, d);
      float* v = out.vectors.values.data() + row * d;
      for (int j = 0; j < d; ++j) v[j] = a * centres[i][j] + b * noise[j];
      Normalise(v, d);
      out.identity.push_back(static_cast<int32_t>(i));
    }
  }
  // Shuffle so that insertion order says nothing about identity: row r takes face order[r], permuted in place by
  // following cycles (a copy would double the memory, 4 GB at a million faces).
  std::vector<int64_t> order(options.faces);
  std::iota(order.begin(), order.end(), int64_t{0});
  std::shuffle(order.begin(), order.end(), rng);
  std::vector<bool> placed(options.faces, false);
  std::vector<float> held(d);
  for (int64_t start = 0; start < options.faces; ++start) {
    if (placed[start]) continue;
    float* values = out.vectors.values.data();
    std::copy_n(values + start * d, d, held.data());
    const int32_t held_identity = out.identity[start];
    int64_t r = start;
    while (order[r] != start) {
      std::copy_n(values + order[r] * d, d, values + r * d);
      out.identity[r] = out.identity[order[r]];
      placed[r] = true;
      r = order[r];
    }
    std::copy_n(held.data(), d, values + r * d);
    out.identity[r] = held_identity;
    placed[r] = true;
  }
  return out;
}

ClusteringQuality MeasureClustering(const std::vector<int32_t>& labels, const std::vector<int32_t>& identity) {
  ClusteringQuality q;
  const size_t n = labels.size();
  if (n == 0) return q;
  std::map<std::pair<int32_t, int32_t>, int64_t> both;  // (cluster, identity) -> faces, clustered faces only
  std::map<int32_t, int64_t> cluster_size, identity_size;
  int64_t noise = 0;
  for (size_t i = 0; i < n; ++i) {
    ++identity_size[identity[i]];
    if (labels[i] < 0) {
      ++noise;
      continue;
    }
    ++cluster_size[labels[i]];
    ++both[{labels[i], identity[i]}];
  }
  double precision = double(noise), recall = 0, same_pairs = 0, all_pairs = 0;
  for (size_t i = 0; i < n; ++i) {
    if (labels[i] < 0) recall += 1.0 / double(identity_size[identity[i]]);
  }
  std::map<int32_t, int64_t> identities_in_cluster, clusters_of_identity;
  for (const auto& [key, count] : both) {
    const double c = double(count);
    precision += c * c / double(cluster_size[key.first]);
    recall += c * c / double(identity_size[key.second]);
    same_pairs += c * (c - 1) / 2;
    ++identities_in_cluster[key.first];
    ++clusters_of_identity[key.second];
  }
  for (const auto& [cluster, count] : cluster_size) all_pairs += double(count) * double(count - 1) / 2;
  q.bcubed_precision = precision / double(n);
  q.bcubed_recall = recall / double(n);
  q.bcubed_f = 2 * q.bcubed_precision * q.bcubed_recall / (q.bcubed_precision + q.bcubed_recall);
  q.pairwise_precision = all_pairs > 0 ? same_pairs / all_pairs : 1.0;
  q.noise_share = double(noise) / double(n);
  q.clusters = static_cast<int64_t>(cluster_size.size());
  for (const auto& [cluster, count] : identities_in_cluster) q.merged_clusters += count > 1;
  for (const auto& [id, count] : clusters_of_identity) q.split_identities += count > 1;
  return q;
}

Result<std::vector<std::string>> StoreSyntheticFaces(const SyntheticFaces& faces, int64_t first, int64_t count,
                                                     Catalog& catalog, VectorStore& vectors,
                                                     const std::string& path_prefix) {
  constexpr int64_t kBatch = 2000;
  std::vector<std::string> ids;
  ids.reserve(count);
  const int d = faces.vectors.dimension;
  for (int64_t start = first; start < first + count; start += kBatch) {
    const int64_t end = std::min(first + count, start + kBatch);
    std::vector<AssetRecord> assets;
    for (int64_t r = start; r < end; ++r) {
      AssetRecord a;
      a.path = path_prefix + std::to_string(r) + ".jpg";
      a.file_size = 100000;
      a.file_modified_at = 1700000000;
      a.mime_type = "image/jpeg";
      a.width = 1000;
      a.height = 1000;
      assets.push_back(std::move(a));
    }
    ScanCounts counts;
    FACEFILL_RETURN_IF_ERROR(catalog.UpsertAssets(assets, &counts));
    std::map<std::string, int64_t> id_of_path;
    int64_t after = 0;
    while (true) {
      auto pending = catalog.ListPending({.after_id = after, .limit = 4096});
      if (!pending.ok()) return pending.status();
      if (pending->empty()) break;
      for (const auto& a : *pending) id_of_path[a.path] = a.id;
      after = pending->back().id;
    }
    std::vector<ScanOutcome> outcomes;
    for (int64_t r = start; r < end; ++r) {
      ScanOutcome outcome;
      outcome.asset = assets[r - start];
      auto it = id_of_path.find(outcome.asset.path);
      if (it == id_of_path.end())
        return Status(StatusCode::kInternal, "synthetic asset not pending: " + outcome.asset.path);
      outcome.asset.id = it->second;
      FaceRecord face;
      face.id = people::NewId();
      face.point_id = face.id;
      face.asset_id = outcome.asset.id;
      face.bbox_x = face.bbox_y = 100;
      face.bbox_w = face.bbox_h = 200;
      face.detection_confidence = 0.99f;
      face.quality_score = 0.9f;
      face.embedding.assign(faces.vectors.values.begin() + r * d, faces.vectors.values.begin() + (r + 1) * d);
      ids.push_back(face.id);
      outcome.faces.push_back(std::move(face));
      outcomes.push_back(std::move(outcome));
    }
    std::vector<const FaceRecord*> records;
    for (const auto& o : outcomes) records.push_back(&o.faces.front());
    FACEFILL_RETURN_IF_ERROR(vectors.Upsert(records));
    FACEFILL_RETURN_IF_ERROR(catalog.CommitScans(outcomes, "synthetic", "", nullptr));
  }
  return ids;
}

}  // namespace facefill
