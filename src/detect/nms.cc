// NMS and max_num selection, mirroring insightface/model_zoo/scrfd.py (nms, detect).
#include "nms.h"

#include <algorithm>
#include <numeric>

namespace facefill::detect {

std::vector<size_t> GreedyNms(const std::vector<BoxF>& boxes, float iou_threshold) {
  std::vector<size_t> kept;
  std::vector<bool> suppressed(boxes.size(), false);
  auto area = [](const BoxF& b) { return (b.x2 - b.x1 + 1) * (b.y2 - b.y1 + 1); };
  for (size_t i = 0; i < boxes.size(); ++i) {
    if (suppressed[i]) continue;
    kept.push_back(i);
    const BoxF& a = boxes[i];
    for (size_t j = i + 1; j < boxes.size(); ++j) {
      if (suppressed[j]) continue;
      const BoxF& b = boxes[j];
      float w = std::max(0.0f, std::min(a.x2, b.x2) - std::max(a.x1, b.x1) + 1);
      float h = std::max(0.0f, std::min(a.y2, b.y2) - std::max(a.y1, b.y1) + 1);
      float inter = w * h;
      float iou = inter / (area(a) + area(b) - inter);
      if (iou > iou_threshold) suppressed[j] = true;
    }
  }
  return kept;
}

std::vector<size_t> SelectLargestCentral(const std::vector<BoxF>& boxes, int image_width, int image_height,
                                         int max_faces) {
  std::vector<size_t> order(boxes.size());
  std::iota(order.begin(), order.end(), 0);
  if (max_faces <= 0 || static_cast<int>(boxes.size()) <= max_faces) return order;
  const float center_x = static_cast<float>(image_width / 2), center_y = static_cast<float>(image_height / 2);
  std::vector<float> value(boxes.size());
  for (size_t i = 0; i < boxes.size(); ++i) {
    const BoxF& b = boxes[i];
    float dx = (b.x1 + b.x2) / 2 - center_x, dy = (b.y1 + b.y2) / 2 - center_y;
    value[i] = b.width() * b.height() - 2.0f * (dx * dx + dy * dy);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return value[a] > value[b]; });
  order.resize(static_cast<size_t>(max_faces));
  return order;
}

}  // namespace facefill::detect

namespace facefill::detect {

std::vector<FaceDetection> SuppressAndSelect(std::vector<FaceDetection> candidates, float nms_threshold, int max_faces,
                                             int image_width, int image_height) {
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const FaceDetection& a, const FaceDetection& b) { return a.score > b.score; });
  std::vector<BoxF> boxes;
  boxes.reserve(candidates.size());
  for (const auto& c : candidates) boxes.push_back(c.box);
  std::vector<FaceDetection> kept;
  std::vector<BoxF> kept_boxes;
  for (size_t i : GreedyNms(boxes, nms_threshold)) {
    kept.push_back(candidates[i]);
    kept_boxes.push_back(candidates[i].box);
  }
  std::vector<FaceDetection> selected;
  for (size_t i : SelectLargestCentral(kept_boxes, image_width, image_height, max_faces)) selected.push_back(kept[i]);
  return selected;
}

}  // namespace facefill::detect
