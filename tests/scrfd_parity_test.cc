// Golden parity with InsightFace: SCRFD detections on every shared photo against reference/scrfd_detections.json.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "facefill/detector.h"
#include "facefill/image.h"
#include "test_support.h"

namespace facefill {
namespace {

using testing::SharedDir;

struct ReferenceFace {
  BoxF box;
  float score;
  FiveLandmarks landmarks;
};

std::vector<ReferenceFace> ParseFaces(const nlohmann::json& list) {
  std::vector<ReferenceFace> faces;
  for (const auto& f : list) {
    ReferenceFace face;
    face.box = BoxF{f["bbox"][0], f["bbox"][1], f["bbox"][2], f["bbox"][3]};
    face.score = f["score"];
    for (int i = 0; i < 5; ++i) face.landmarks[i] = Point2f{f["kps"][i][0], f["kps"][i][1]};
    faces.push_back(face);
  }
  return faces;
}

// InsightFace parity: each reference face matched at this IoU, its score and landmarks this close, no extra face.
struct Tolerance {
  float min_iou = 0.98f;
  float max_score_difference = 0.01f;
  float max_landmark_distance = 1.0f;  // pixels
};

// The worst agreement over the reference faces (IoU of the best candidate, matched or not), for the figures a run
// prints.
struct Agreement {
  float lowest_iou = 1;
  float largest_score_difference = 0;
  float largest_landmark_distance = 0;
};

// Compares our faces with the reference; returns one message per mismatch, naming the image and the face.
std::vector<std::string> Compare(const std::string& image, const std::vector<FaceDetection>& ours,
                                 const std::vector<ReferenceFace>& reference, const Tolerance& tolerance,
                                 Agreement* agreement) {
  std::vector<std::string> problems;
  std::vector<bool> used(ours.size(), false);
  for (size_t r = 0; r < reference.size(); ++r) {
    const auto& ref = reference[r];
    int best = -1;
    float best_iou = 0;
    for (size_t i = 0; i < ours.size(); ++i) {
      float iou = BoxIou(ours[i].box, ref.box);
      if (!used[i] && iou > best_iou) best = static_cast<int>(i), best_iou = iou;
    }
    agreement->lowest_iou = std::min(agreement->lowest_iou, best_iou);
    if (best < 0 || best_iou < tolerance.min_iou) {
      problems.push_back(fmt::format("{} face {} (box {:.1f},{:.1f},{:.1f},{:.1f}): no match, best IoU {:.3f}", image,
                                     r, ref.box.x1, ref.box.y1, ref.box.x2, ref.box.y2, best_iou));
      continue;
    }
    used[best] = true;
    const auto& face = ours[best];
    agreement->largest_score_difference =
        std::max(agreement->largest_score_difference, std::abs(face.score - ref.score));
    if (std::abs(face.score - ref.score) > tolerance.max_score_difference) {
      problems.push_back(fmt::format("{} face {}: score {:.4f} vs reference {:.4f}", image, r, face.score, ref.score));
    }
    for (int p = 0; p < 5; ++p) {
      float dist = std::hypot(face.landmarks[p].x - ref.landmarks[p].x, face.landmarks[p].y - ref.landmarks[p].y);
      agreement->largest_landmark_distance = std::max(agreement->largest_landmark_distance, dist);
      if (dist > tolerance.max_landmark_distance) {
        problems.push_back(fmt::format("{} face {}: landmark {} off by {:.2f} px", image, r, p, dist));
      }
    }
  }
  for (size_t i = 0; i < ours.size(); ++i) {
    if (!used[i]) {
      problems.push_back(fmt::format("{}: extra face {:.1f},{:.1f},{:.1f},{:.1f} score {:.4f}", image, ours[i].box.x1,
                                     ours[i].box.y1, ours[i].box.x2, ours[i].box.y2, ours[i].score));
    }
  }
  return problems;
}

struct ParityCase {
  std::string model_file;     // under shared/models/scrfd
  std::string reference_key;  // detector name in the reference file
  bool tight_input = false;   // DetectorOptions::tight_input
  Tolerance tolerance;        // what the test asserts; mismatches against the parity tolerance are printed
};

void PrintTo(const ParityCase& c, std::ostream* os) { *os << c.model_file << (c.tight_input ? " tight" : ""); }

class ScrfdParityTest : public ::testing::TestWithParam<ParityCase> {};

TEST_P(ScrfdParityTest, MatchesInsightFaceOnEverySharedPhoto) {
  const auto shared = SharedDir();
  FACEFILL_REQUIRE_PATH(shared, "../shared (models, photos, reference outputs)");
  std::ifstream in(shared / "reference/scrfd_detections.json");
  const auto reference = nlohmann::json::parse(in);
  DetectorOptions options;
  options.tight_input = GetParam().tight_input;
  auto detector = OpenScrfdDetector(shared / "models/scrfd" / GetParam().model_file, options);
  ASSERT_TRUE(detector.ok()) << detector.status().ToString();

  int images = 0, faces = 0;
  std::vector<std::string> problems;
  size_t parity_mismatches = 0;
  Agreement agreement, unused;
  for (const auto& [image, by_model] : reference.items()) {
    auto decoded = DecodeImageFile(shared / image);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    auto detections = (*detector)->Detect(decoded->bgr);
    ASSERT_TRUE(detections.ok()) << image << ": " << detections.status().ToString();
    auto expected = ParseFaces(by_model.at(GetParam().reference_key));
    auto found = Compare(image, *detections, expected, GetParam().tolerance, &agreement);
    parity_mismatches += Compare(image, *detections, expected, Tolerance{}, &unused).size();
    problems.insert(problems.end(), found.begin(), found.end());
    ++images;
    faces += static_cast<int>(expected.size());
  }
  EXPECT_GE(images, 50);
  EXPECT_GT(faces, 200);
  for (const auto& p : problems) ADD_FAILURE() << p;
  std::cout << fmt::format(
      "{}{}: {} images, {} reference faces, {} parity mismatches; lowest IoU {:.4f}, largest score difference "
      "{:.4f}, largest landmark distance {:.3f} px\n",
      GetParam().model_file, GetParam().tight_input ? " (tight input)" : "", images, faces, parity_mismatches,
      agreement.lowest_iou, agreement.largest_score_difference, agreement.largest_landmark_distance);
}

INSTANTIATE_TEST_SUITE_P(
    Models, ScrfdParityTest,
    ::testing::Values(ParityCase{"det_500m.onnx", "det_500m", false, {}},
                      ParityCase{"det_2.5g.onnx", "det_2.5g", false, {}},
                      ParityCase{"scrfd_2.5g_bnkps.onnx", "scrfd_2.5g_bnkps", false, {}},
                      // The fixed-size 640x640 re-export with 3-D named outputs gives det_500m's faces.
                      ParityCase{"scrfd_500m_bnkps_640_named.onnx", "det_500m", false, {}},
                      // The tight input (the used part of the letterbox, rounded up to stride 32) is an option, not
                      // the default: it finds the same faces, but some move (det_500m: IoU down to 0.886, scores
                      // within 0.014, landmarks up to 10.7 px on a rotated photo; parity mismatches are printed).
                      ParityCase{"det_500m.onnx", "det_500m", true, {0.85f, 0.02f, 12.0f}},
                      ParityCase{"det_2.5g.onnx", "det_2.5g", true, {0.95f, 0.01f, 1.0f}},
                      ParityCase{"scrfd_2.5g_bnkps.onnx", "scrfd_2.5g_bnkps", true, {0.95f, 0.01f, 1.0f}}),
    [](const ::testing::TestParamInfo<ParityCase>& param_info) {
      std::string name = param_info.param.model_file.substr(0, param_info.param.model_file.find(".onnx")) +
                         (param_info.param.tight_input ? "_tight" : "");
      for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
      return name;
    });

}  // namespace
}  // namespace facefill
