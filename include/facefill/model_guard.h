// The model guard: a vector store holds one recogniser's vectors. Before facefill writes into a store it checks the
// dimension, and when the store holds vectors it did not record writing with this recogniser (the image-search
// service's buffalo_l collection, say), it embeds a sample of the stored faces again and compares.
#pragma once

#include <string>

#include "facefill/analyzer.h"
#include "facefill/catalog.h"
#include "facefill/status.h"
#include "facefill/vector_store.h"

namespace facefill {

struct ModelGuardOptions {
  int sample_faces = 8;  // stored faces (with landmarks and a readable file) embedded again and compared
  // The same recogniser gives a median cosine near 1 against its own stored vectors (0.98+ here, decoding and
  // alignment differences aside); two different recognisers give about 0.
  float min_median_similarity = 0.6f;
  bool force = false;  // write even when the store's vectors come from another recogniser (--force-model)
};

struct ModelGuardReport {
  std::string recognizer;      // this run's recogniser (the model pack's recogniser file stem)
  std::string recorded;        // the recogniser recorded for the store before this check ("" when none)
  int64_t stored_vectors = 0;  // vectors in the store when checked
  int compared = 0;            // stored faces embedded again
  float median_similarity = 0;
  bool forced = false;  // a mismatch (or an unverifiable store) let through by `force`
};

// The recogniser name the guard records: the stem of the pack's recogniser file ("w600k_r50", "fr_feature").
std::string RecognizerName(const ModelPack& pack);

// Prepares `vectors` for this analyzer's dimension (a store of another dimension is refused, before any image is
// read), then refuses (kInvalidArgument, saying why and what to do) a store whose vectors another recogniser wrote:
// recorded as such, or found so by re-embedding `sample_faces` of its stored faces. A store found to match, or empty,
// is recorded as this recogniser's.
Result<ModelGuardReport> GuardVectorModel(Catalog& catalog, VectorStore& vectors, FaceAnalyzer& analyzer,
                                          const ModelGuardOptions& options = {});

}  // namespace facefill
