// Landmarks as the image-search service stores them (and `facefill detect --json` prints them):
// {"left_eye": [x, y], ..., "mouth_right": [x, y]}. Header-only; users link nlohmann-json themselves.
#pragma once

#include <nlohmann/json.hpp>

#include "facefill/face.h"

namespace facefill {

inline nlohmann::json LandmarksJson(const FiveLandmarks& landmarks) {
  nlohmann::json j = nlohmann::json::object();
  for (size_t i = 0; i < landmarks.size(); ++i) j[kLandmarkNames[i]] = {landmarks[i].x, landmarks[i].y};
  return j;
}

}  // namespace facefill
