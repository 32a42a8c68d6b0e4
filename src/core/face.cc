// Geometry helpers on face results.
#include "facefill/face.h"

#include <algorithm>
#include <cmath>

namespace facefill {

float BoxIou(const BoxF& a, const BoxF& b) {
  float iw = std::max(0.0f, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
  float ih = std::max(0.0f, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
  float inter = iw * ih;
  float uni = a.width() * a.height() + b.width() * b.height() - inter;
  return uni > 0 ? inter / uni : 0.0f;
}

float CosineSimilarity(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    dot += double{a[i]} * b[i];
    na += double{a[i]} * a[i];
    nb += double{b[i]} * b[i];
  }
  return na > 0 && nb > 0 ? static_cast<float>(dot / std::sqrt(na * nb)) : 0.0f;
}

}  // namespace facefill
