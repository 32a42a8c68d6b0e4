// Face rows as the image-search service writes them (bbox from face.bbox.astype(int), its filters and quality).
#include "face_records.h"

#include <uuid/uuid.h>

#include <algorithm>
#include <cmath>
#include <ctime>

namespace facefill {

std::string FaceId(int64_t asset_id, int x, int y, int w, int h, const std::string& model_id) {
  // A fixed namespace for facefill face ids.
  static const char* kNamespace = "6f1c3b0e-3d5e-5a8c-9b7a-2f6d9e4c1a70";
  uuid_t ns, out;
  uuid_parse(kNamespace, ns);
  const std::string name = std::to_string(asset_id) + ":" + std::to_string(x) + "," + std::to_string(y) + "," +
                           std::to_string(w) + "," + std::to_string(h) + ":" + model_id;
  uuid_generate_sha1(out, ns, name.data(), name.size());
  char text[37];
  uuid_unparse_lower(out, text);
  return text;
}

float QualityScore(int w, int h, float confidence) {
  return std::min(1.0f, static_cast<float>(w) * static_cast<float>(h) / 40000.0f) * 0.5f + confidence * 0.5f;
}

std::string IsoTime(int64_t unix_seconds) {
  if (unix_seconds <= 0) return "";
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[40];
  std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S+00:00", &utc);
  return text;
}

namespace pipeline {

std::vector<FaceRecord> ToFaceRecords(const AssetRecord& asset, const std::vector<FaceDetection>& detections,
                                      double scale, const BackfillOptions& options, const std::string& model_id,
                                      std::vector<size_t>* kept) {
  std::vector<FaceRecord> faces;
  kept->clear();
  const std::string taken_at = IsoTime(asset.file_modified_at);
  for (size_t i = 0; i < detections.size(); ++i) {
    const auto& d = detections[i];
    if (d.score < options.min_confidence) continue;
    // Truncation toward zero, as numpy astype(int).
    const int x1 = static_cast<int>(d.box.x1 / scale), y1 = static_cast<int>(d.box.y1 / scale);
    const int x2 = static_cast<int>(d.box.x2 / scale), y2 = static_cast<int>(d.box.y2 / scale);
    const int w = x2 - x1, h = y2 - y1;
    if (w < options.min_face_size || h < options.min_face_size) continue;
    FaceRecord f;
    f.asset_id = asset.id;
    f.bbox_x = x1, f.bbox_y = y1, f.bbox_w = w, f.bbox_h = h;
    for (int p = 0; p < 5; ++p) {
      f.landmarks[p] =
          Point2f{static_cast<float>(d.landmarks[p].x / scale), static_cast<float>(d.landmarks[p].y / scale)};
    }
    f.detection_confidence = d.score;
    f.quality_score = QualityScore(w, h, d.score);
    f.id = FaceId(asset.id, x1, y1, w, h, model_id);
    f.point_id = f.id;
    f.taken_at = taken_at;
    faces.push_back(std::move(f));
    kept->push_back(i);
  }
  return faces;
}

void MatchStoredFaces(ScanOutcome* outcome, const std::vector<StoredFace>& stored, bool clusters_are_labels) {
  std::vector<FaceRecord>& faces = outcome->faces;
  auto box = [](int x, int y, int w, int h) {
    return BoxF{static_cast<float>(x), static_cast<float>(y), static_cast<float>(x + w), static_cast<float>(y + h)};
  };
  // Greedy by IoU over all pairs, best first.
  struct Pair {
    float iou;
    size_t face, old;
  };
  std::vector<Pair> pairs;
  for (size_t i = 0; i < faces.size(); ++i) {
    const auto& f = faces[i];
    for (size_t j = 0; j < stored.size(); ++j) {
      const auto& s = stored[j];
      float iou = BoxIou(box(f.bbox_x, f.bbox_y, f.bbox_w, f.bbox_h), box(s.bbox_x, s.bbox_y, s.bbox_w, s.bbox_h));
      if (iou > 0.5f) pairs.push_back({iou, i, j});
    }
  }
  std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.iou > b.iou; });
  std::vector<bool> face_taken(faces.size(), false), old_taken(stored.size(), false);
  for (const auto& p : pairs) {
    if (face_taken[p.face] || old_taken[p.old]) continue;
    face_taken[p.face] = old_taken[p.old] = true;
    FaceRecord& f = faces[p.face];
    const StoredFace& s = stored[p.old];
    f.id = s.id;
    f.point_id = s.point_id.empty() ? s.id : s.point_id;
    f.stored = true;
    f.person_id = s.person_id;
    f.cluster_id = s.cluster_id;
  }
  outcome->removed.clear();
  outcome->kept_not_redetected = 0;
  for (size_t j = 0; j < stored.size(); ++j) {
    if (old_taken[j]) continue;
    if (stored[j].person_id.has_value() || (clusters_are_labels && stored[j].cluster_id.has_value())) {
      ++outcome->kept_not_redetected;  // a person's work: never deleted by a re-scan
    } else {
      outcome->removed.push_back(stored[j]);
    }
  }
}

}  // namespace pipeline
}  // namespace facefill
