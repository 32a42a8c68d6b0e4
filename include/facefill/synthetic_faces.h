// Synthetic face vectors with the structure of a photo library, for benchmarks and tests that need no photos:
// identity centres on the unit sphere, Zipf-distributed identity sizes, same-person cosine about 0.5-0.75, and
// look-alike identities whose centres lie close together.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "facefill/catalog.h"
#include "facefill/hdbscan.h"
#include "facefill/vector_store.h"

namespace facefill {

struct SyntheticFacesOptions {
  int64_t faces = 10000;
  int dimension = 512;
  // Spread of the vectors over the dimensions (participation ratio of the coordinate variances; 0: all 512 alike).
  // Two faces of different people then have cosine spread about 1 / sqrt(effective_dimension). Measured on the
  // shared photos with the default pack (MobileFaceNet): different-person cosine mean 0.03, standard deviation
  // 0.087 over 482 pairs, so 1 / 0.087^2 = 132; isotropic 512-d vectors would give 0.044. Real face embeddings use
  // far fewer than their 512 dimensions, which also makes nearest-neighbour search easier than on isotropic ones.
  double effective_dimension = 132;
  int64_t identities = 0;          // 0: faces / 20
  double zipf_exponent = 1.0;      // identity i gets a share proportional to 1 / (i + 1)^exponent
  double min_same_person = 0.5;    // a face's squared cosine to its identity centre is drawn uniformly between
  double max_same_person = 0.75;   // these, so two faces of one person have cosine about sqrt(t1 * t2)
  double look_alike_share = 0.05;  // share of identities made a look-alike of another one
  double look_alike_cosine = 0.5;  // cosine between the centres of a look-alike pair
  uint64_t seed = 42;
};

struct SyntheticFaces {
  VectorMatrix vectors;           // L2-normalised
  std::vector<int32_t> identity;  // per face
  int64_t identities = 0;
};

SyntheticFaces GenerateSyntheticFaces(const SyntheticFacesOptions& options);

// Stores faces [first, first + count) in a real catalog and vector store, as the backfill would: one asset per face
// (path_prefix + row + ".jpg"), scanned under model "synthetic", vectors first. Returns the face ids in row order.
Result<std::vector<std::string>> StoreSyntheticFaces(const SyntheticFaces& faces, int64_t first, int64_t count,
                                                     Catalog& catalog, VectorStore& vectors,
                                                     const std::string& path_prefix = "/synthetic/");

// Quality of a clustering against known identities. Noise points count as singleton clusters for BCubed.
struct ClusteringQuality {
  double bcubed_precision = 0, bcubed_recall = 0, bcubed_f = 0;
  double pairwise_precision = 0;  // of the pairs put in one cluster, the share with one identity (1 when none)
  double noise_share = 0;
  int64_t clusters = 0;
  int64_t merged_clusters = 0;   // clusters holding faces of more than one identity
  int64_t split_identities = 0;  // identities whose clustered faces lie in more than one cluster
};

ClusteringQuality MeasureClustering(const std::vector<int32_t>& labels, const std::vector<int32_t>& identity);

}  // namespace facefill
