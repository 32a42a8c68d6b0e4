// Pure unit tests: NMS and max_num selection, Umeyama alignment, the ONNX graph reader on malformed bytes.
#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "detect/landmark_crop.h"
#include "detect/nms.h"
#include "facefill/align.h"
#include "inference/onnx_graph.h"

namespace facefill {
namespace {

TEST(NmsTest, SuppressesOverlapsAboveThresholdKeepsOthers) {
  // Sorted by score: A, B overlaps A heavily, C is elsewhere, D overlaps A at IoU ~0.33 (kept at 0.4).
  std::vector<BoxF> boxes = {{0, 0, 99, 99}, {5, 5, 104, 104}, {300, 300, 350, 350}, {50, 0, 149, 99}};
  auto kept = detect::GreedyNms(boxes, 0.4f);
  EXPECT_EQ(kept, (std::vector<size_t>{0, 2, 3}));
}

TEST(NmsTest, MaxFacesKeepsLargestMostCentral) {
  std::vector<BoxF> boxes = {{0, 0, 10, 10}, {40, 40, 60, 60}, {80, 80, 100, 100}, {30, 30, 70, 70}};
  auto order = detect::SelectLargestCentral(boxes, 100, 100, 2);
  EXPECT_EQ(order, (std::vector<size_t>{3, 1}));
  EXPECT_EQ(detect::SelectLargestCentral(boxes, 100, 100, 0).size(), 4u);
}

TEST(NmsTest, SuppressAndSelectSortsByScore) {
  std::vector<FaceDetection> faces(3);
  faces[0].box = {0, 0, 10, 10}, faces[0].score = 0.6f;
  faces[1].box = {1, 1, 11, 11}, faces[1].score = 0.9f;
  faces[2].box = {50, 50, 60, 60}, faces[2].score = 0.7f;
  auto kept = detect::SuppressAndSelect(faces, 0.4f, 0, 100, 100);
  ASSERT_EQ(kept.size(), 2u);
  EXPECT_FLOAT_EQ(kept[0].score, 0.9f);
  EXPECT_FLOAT_EQ(kept[1].score, 0.7f);
}

TEST(LandmarkCropTest, AFaceBoxIsCroppedAsIsInsideTheImage) {
  auto crop = detect::LandmarkCrop(BoxF{10.5f, 20.2f, 60.9f, 70.1f}, 200, 100);
  ASSERT_TRUE(crop.ok()) << crop.status().ToString();
  EXPECT_EQ(*crop, cv::Rect(10, 20, 50, 50));
  auto edge = detect::LandmarkCrop(BoxF{0, 0, 2, 2}, 3, 3);  // the smallest face a 3x3 image can hold
  ASSERT_TRUE(edge.ok()) << edge.status().ToString();
  EXPECT_EQ(*edge, cv::Rect(0, 0, 2, 2));
}

// Under 2 px (or not a number) the landmark model sees nothing and the aligned face would be black: refused, with
// the reason, instead of a face without landmarks.
TEST(LandmarkCropTest, TinyAndNonFiniteFacesAreRefusedWithAReason) {
  for (const BoxF& box : {BoxF{5, 5, 6.5f, 30}, BoxF{5, 5, 30, 6.9f}, BoxF{5, 5, 5, 5}, BoxF{0, 0, 1, 1}}) {
    auto crop = detect::LandmarkCrop(box, 100, 100);
    ASSERT_FALSE(crop.ok()) << box.x1 << "," << box.y1 << "," << box.x2 << "," << box.y2;
    EXPECT_EQ(crop.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(crop.status().message().find("under 2 px"), std::string::npos) << crop.status().message();
  }
  const float nan = std::numeric_limits<float>::quiet_NaN();
  auto broken = detect::LandmarkCrop(BoxF{nan, 0, 10, 10}, 100, 100);
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find("not finite"), std::string::npos);
  EXPECT_FALSE(detect::LandmarkCrop(BoxF{0, 0, std::numeric_limits<float>::infinity(), 10}, 100, 100).ok());
  // A 2x2 image cannot give a 2 px crop (the crop stays inside the last row and column, as fr_landmark.js has it).
  EXPECT_FALSE(detect::LandmarkCrop(BoxF{0, 0, 2, 2}, 2, 2).ok());
}

const FiveLandmarks kTemplate = {Point2f{38.2946f, 51.6963f}, Point2f{73.5318f, 51.5014f}, Point2f{56.0252f, 71.7366f},
                                 Point2f{41.5493f, 92.3655f}, Point2f{70.7299f, 92.2041f}};

TEST(AlignTest, TemplatePointsGiveIdentity) {
  cv::Matx23d m = EstimateNormCropTransform(kTemplate);
  EXPECT_NEAR(m(0, 0), 1.0, 1e-5);
  EXPECT_NEAR(m(0, 1), 0.0, 1e-5);
  EXPECT_NEAR(m(1, 0), 0.0, 1e-5);
  EXPECT_NEAR(m(0, 2), 0.0, 1e-3);
  EXPECT_NEAR(m(1, 2), 0.0, 1e-3);
}

TEST(AlignTest, RecoversKnownSimilarity) {
  // Points = template rotated by 30 degrees, scaled by 2.5 and shifted: the estimate must invert exactly that.
  const double angle = 30 * CV_PI / 180, scale = 2.5, tx = 400, ty = -120;
  FiveLandmarks moved;
  for (int i = 0; i < 5; ++i) {
    double x = kTemplate[i].x, y = kTemplate[i].y;
    moved[i] = Point2f{static_cast<float>(scale * (std::cos(angle) * x - std::sin(angle) * y) + tx),
                       static_cast<float>(scale * (std::sin(angle) * x + std::cos(angle) * y) + ty)};
  }
  cv::Matx23d m = EstimateNormCropTransform(moved);
  for (int i = 0; i < 5; ++i) {
    double x = m(0, 0) * moved[i].x + m(0, 1) * moved[i].y + m(0, 2);
    double y = m(1, 0) * moved[i].x + m(1, 1) * moved[i].y + m(1, 2);
    EXPECT_NEAR(x, kTemplate[i].x, 1e-3);
    EXPECT_NEAR(y, kTemplate[i].y, 1e-3);
  }
  EXPECT_NEAR(std::hypot(m(0, 0), m(1, 0)), 1 / scale, 1e-6);
}

TEST(AlignTest, WarpHasBlackBorderAndSize) {
  cv::Mat white(200, 200, CV_8UC3, cv::Scalar::all(255));
  FiveLandmarks corner;  // a face cut by the image corner: the crop's top-left falls outside the image
  for (int i = 0; i < 5; ++i) corner[i] = Point2f{kTemplate[i].x - 60, kTemplate[i].y - 60};
  cv::Mat crop = AlignFace(white, corner);
  EXPECT_EQ(crop.size(), cv::Size(112, 112));
  EXPECT_EQ(crop.at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(crop.at<cv::Vec3b>(111, 111), cv::Vec3b(255, 255, 255));
}

TEST(OnnxGraphTest, ArbitraryBytesGiveModelErrorNotCrash) {
  std::mt19937 rng(42);
  for (int trial = 0; trial < 2000; ++trial) {
    std::vector<uint8_t> bytes(rng() % 256);
    for (auto& b : bytes) b = static_cast<uint8_t>(rng());
    auto result = inference::ReadLeadingOpTypes(bytes, 8);
    if (!result.ok()) {
      EXPECT_EQ(result.status().code(), StatusCode::kModelError);
    }
  }
  EXPECT_FALSE(inference::ReadLeadingOpTypes(std::vector<uint8_t>{0x3a, 0x7f}, 8).ok());  // length past the end
}

TEST(OnnxGraphTest, ReadsOpTypesOfHandBuiltModel) {
  // ModelProto{graph(7): GraphProto{node(1): NodeProto{op_type(4): "Sub"}, node: {op_type: "Mul"}}}
  std::vector<uint8_t> node_sub = {0x22, 3, 'S', 'u', 'b'}, node_mul = {0x22, 3, 'M', 'u', 'l'};
  std::vector<uint8_t> graph = {0x0a, 5};
  graph.insert(graph.end(), node_sub.begin(), node_sub.end());
  graph.insert(graph.end(), {0x0a, 5});
  graph.insert(graph.end(), node_mul.begin(), node_mul.end());
  std::vector<uint8_t> model = {0x08, 7, 0x3a, static_cast<uint8_t>(graph.size())};  // ir_version(1)=7, graph
  model.insert(model.end(), graph.begin(), graph.end());
  auto ops = inference::ReadLeadingOpTypes(model, 8);
  ASSERT_TRUE(ops.ok()) << ops.status().ToString();
  EXPECT_EQ(*ops, (std::vector<std::string>{"Sub", "Mul"}));
}

}  // namespace
}  // namespace facefill
