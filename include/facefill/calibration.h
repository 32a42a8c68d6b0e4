// Figures measured per model on the shared photos: the default face-score floor per detector and the cosine
// similarity above which two faces are likely the same person, per recogniser.
#pragma once

#include <optional>
#include <string>

#include "facefill/model_pack.h"

namespace facefill {

// The --min-confidence a backfill uses when none is given, for the pack's detector.
float DefaultMinConfidence(const ModelPack& pack);

// Similarity at or above which two faces embedded by this recogniser are likely the same person; none for a
// recogniser that was not calibrated.
std::optional<float> SamePersonThreshold(const ModelPack& pack);

}  // namespace facefill
