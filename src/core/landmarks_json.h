// Landmarks as the image-search service stores them (and `facefill detect --json` prints them):
// {"left_eye": [x, y], ..., "mouth_right": [x, y]}. The catalogs' serialisation, not part of the library's API.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "facefill/face.h"

namespace facefill {

inline nlohmann::json LandmarksJson(const FiveLandmarks& landmarks) {
  nlohmann::json j = nlohmann::json::object();
  for (size_t i = 0; i < landmarks.size(); ++i) j[kLandmarkNames[i]] = {landmarks[i].x, landmarks[i].y};
  return j;
}

// The five points from that form (as the service or facefill stored them); nullopt when any is missing or malformed.
inline std::optional<FiveLandmarks> ParseLandmarksJson(const std::string& text) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  FiveLandmarks landmarks;
  for (size_t i = 0; i < landmarks.size(); ++i) {
    auto it = j.find(kLandmarkNames[i]);
    if (it == j.end() || !it->is_array() || it->size() < 2 || !(*it)[0].is_number() || !(*it)[1].is_number()) {
      return std::nullopt;
    }
    landmarks[i] = Point2f{(*it)[0].get<float>(), (*it)[1].get<float>()};
  }
  return landmarks;
}

}  // namespace facefill
