// Typed face results shared by detection, alignment and embedding.
#pragma once

#include <array>
#include <vector>

namespace facefill {

struct Point2f {
  float x = 0;
  float y = 0;
};

// Axis-aligned box, corners (x1,y1) top-left and (x2,y2) bottom-right.
struct BoxF {
  float x1 = 0;
  float y1 = 0;
  float x2 = 0;
  float y2 = 0;
  float width() const { return x2 - x1; }
  float height() const { return y2 - y1; }
};

// The five alignment points in InsightFace order.
enum LandmarkIndex { kLeftEye = 0, kRightEye = 1, kNose = 2, kMouthLeft = 3, kMouthRight = 4 };
using FiveLandmarks = std::array<Point2f, 5>;
// Their names in the image-search service's landmarks JSON ({"left_eye": [x, y], ...}), in LandmarkIndex order.
inline constexpr std::array<const char*, 5> kLandmarkNames = {"left_eye", "right_eye", "nose", "mouth_left",
                                                              "mouth_right"};

// One detected face, in the pixel coordinates of the image that was passed to the detector.
struct FaceDetection {
  BoxF box;
  FiveLandmarks landmarks;
  float score = 0;
};

// L2-normalised embedding.
using Embedding = std::vector<float>;

// Intersection over union of two boxes (continuous coordinates, no +1).
float BoxIou(const BoxF& a, const BoxF& b);

// Cosine similarity of two equal-length vectors.
float CosineSimilarity(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace facefill
