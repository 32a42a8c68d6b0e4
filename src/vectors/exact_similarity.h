// The similarity exact search gives a stored vector: the dot product of unit vectors, summed in order in floats. The
// face index's rerank uses it too, so that its similarities equal exact search's.
#pragma once

#include <cstddef>
#include <span>

namespace facefill {

inline float ExactSimilarity(std::span<const float> stored, std::span<const float> query) {
  float dot = 0;
  for (size_t i = 0; i < stored.size(); ++i) dot += stored[i] * query[i];
  return dot;
}

}  // namespace facefill
