// The default pack end to end, model contract checks, pack discovery, and thread-safe clones.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <opencv2/imgproc.hpp>
#include <thread>

#include "facefill/analyzer.h"
#include "facefill/image.h"
#include "test_support.h"

namespace facefill {
namespace {

using testing::DefaultPackDir;
using testing::SharedDir;
using testing::TempDir;

class DefaultPackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (photos)");
    FACEFILL_REQUIRE_PATH(DefaultPackDir(), "the default model pack (scripts/setup.sh)");
    auto pack = LocateModelPack({DefaultPackDir(), "", ""});
    ASSERT_TRUE(pack.ok()) << pack.status().ToString();
    EXPECT_EQ(pack->kind, PackKind::kUltraLight);
    EXPECT_EQ(pack->id, "fr_detect+fr_feature");
    auto analyzer = FaceAnalyzer::Open(*pack);
    ASSERT_TRUE(analyzer.ok()) << analyzer.status().ToString();
    analyzer_ = std::move(analyzer).value();
  }

  std::vector<AnalyzedFace> Faces(const std::string& image) {
    auto decoded = DecodeImageFile(SharedDir() / "images" / image);
    EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
    if (!decoded.ok()) return {};
    auto faces = analyzer_->Analyze(decoded->bgr);
    EXPECT_TRUE(faces.ok()) << image << ": " << faces.status().ToString();
    return faces.ok() ? *faces : std::vector<AnalyzedFace>{};
  }

  std::unique_ptr<FaceAnalyzer> analyzer_;
};

TEST_F(DefaultPackTest, FindsObamaWhereTheKnownBoxIs) {
  auto faces = Faces("obama/obama.jpg");
  ASSERT_EQ(faces.size(), 1u);
  // Known dlib box (top, right, bottom, left) = (142, 617, 409, 349); a different detector overlaps it loosely.
  BoxF dlib{349, 142, 617, 409};
  EXPECT_GT(BoxIou(faces[0].detection.box, dlib), 0.5f);
  const auto& lm = faces[0].detection.landmarks;
  EXPECT_LT(lm[kLeftEye].x, lm[kRightEye].x);  // left eye (image left) before right eye
  EXPECT_LT(lm[kLeftEye].y, lm[kMouthLeft].y);
  EXPECT_GT(lm[kNose].x, lm[kLeftEye].x);
  EXPECT_LT(lm[kNose].x, lm[kRightEye].x);
  ASSERT_EQ(faces[0].embedding.size(), 512u);
}

TEST_F(DefaultPackTest, FindsTheSixFacesOfTheInsightFaceDemo) {
  EXPECT_EQ(Faces("group/insightface_t1.jpg").size(), 6u);
}

TEST_F(DefaultPackTest, NoFacesInLandscape) { EXPECT_TRUE(Faces("noface/insightface_view.jpg").empty()); }

TEST_F(DefaultPackTest, SamePersonIsCloserThanAnotherPerson) {
  auto obama = Faces("obama/obama.jpg"), obama2 = Faces("obama/obama2.jpg"), biden = Faces("biden/biden.jpg");
  ASSERT_EQ(obama.size(), 1u);
  ASSERT_EQ(obama2.size(), 1u);
  ASSERT_EQ(biden.size(), 1u);
  float same = CosineSimilarity(obama[0].embedding, obama2[0].embedding);
  float other = CosineSimilarity(obama[0].embedding, biden[0].embedding);
  EXPECT_GT(same, 0.4f);
  EXPECT_LT(other, 0.25f);
  EXPECT_GT(same, other + 0.2f);
}

// Embed in calls of a few faces gives what one call gives, face for face (the backfill's batching across images
// relies on it).
TEST_F(DefaultPackTest, EmbedInCallsOfTwoFacesEqualsOneCall) {
  auto decoded = DecodeImageFile(SharedDir() / "images/group/insightface_t1.jpg");
  ASSERT_TRUE(decoded.ok());
  auto detections = analyzer_->Detect(decoded->bgr);
  ASSERT_TRUE(detections.ok()) << detections.status().ToString();
  ASSERT_EQ(detections->size(), 6u);
  std::vector<cv::Mat> crops;
  for (const auto& d : *detections) crops.push_back(analyzer_->Align(decoded->bgr, d.landmarks));
  auto one_call = analyzer_->Embed(crops);
  auto pairs = analyzer_->Embed(crops, 2);
  ASSERT_TRUE(one_call.ok() && pairs.ok());
  ASSERT_EQ(pairs->size(), crops.size());
  for (size_t i = 0; i < crops.size(); ++i) {
    EXPECT_GT(CosineSimilarity((*one_call)[i], (*pairs)[i]), 0.9999f) << "face " << i;
  }
  // Different faces stay different: the vectors were not shuffled between calls.
  EXPECT_LT(CosineSimilarity((*pairs)[0], (*pairs)[1]), 0.9f);
}

TEST_F(DefaultPackTest, ClonesGiveIdenticalResultsFromTwoThreads) {
  auto decoded = DecodeImageFile(SharedDir() / "images/group/insightface_t1.jpg");
  ASSERT_TRUE(decoded.ok());
  auto expected = analyzer_->Analyze(decoded->bgr);
  ASSERT_TRUE(expected.ok());
  std::vector<std::vector<AnalyzedFace>> results(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t, clone = std::shared_ptr<FaceAnalyzer>(analyzer_->Clone())] {
      for (int i = 0; i < 3; ++i) {
        auto faces = clone->Analyze(decoded->bgr);
        if (faces.ok()) results[t] = *faces;
      }
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& r : results) {
    ASSERT_EQ(r.size(), expected->size());
    for (size_t i = 0; i < r.size(); ++i) EXPECT_EQ(r[i].embedding, (*expected)[i].embedding);
  }
}

// A face photo shrunk to a few pixels, every candidate kept (threshold 0): a face under 2 px has no landmarks to
// find, so it is refused; a face that is returned always has its box and its five points (never a zero transform
// that aligns a black crop).
TEST(UltraLightTest, FacesInTinyImagesAreRefusedOrHaveLandmarks) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (photos)");
  FACEFILL_REQUIRE_PATH(DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  auto pack = LocateModelPack({DefaultPackDir(), "", ""});
  ASSERT_TRUE(pack.ok()) << pack.status().ToString();
  AnalyzerOptions options;
  options.detector.score_threshold = 0;
  auto analyzer = FaceAnalyzer::Open(*pack, options);
  ASSERT_TRUE(analyzer.ok()) << analyzer.status().ToString();
  const auto photo = SharedDir() / "images/obama/obama.jpg";
  auto decoded = DecodeImageFile(photo);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  size_t returned = 0;
  for (int side : {1, 2, 3, 4, 6}) {
    cv::Mat tiny;
    cv::resize(decoded->bgr, tiny, cv::Size(side, side), 0, 0, cv::INTER_AREA);
    auto faces = (*analyzer)->detector().Detect(tiny);
    ASSERT_TRUE(faces.ok()) << photo << " at " << side << " px: " << faces.status().ToString();
    if (side < 3) {
      EXPECT_TRUE(faces->empty()) << photo << " at " << side << " px holds no 2 px face";
    }
    for (const auto& face : *faces) {
      ++returned;
      EXPECT_GE(face.box.width(), 2) << photo << " at " << side << " px";
      EXPECT_GE(face.box.height(), 2) << photo << " at " << side << " px";
      bool all_zero = true;
      for (const auto& p : face.landmarks) all_zero = all_zero && p.x == 0 && p.y == 0;
      EXPECT_FALSE(all_zero) << photo << " at " << side << " px: a face without landmarks";
    }
  }
  std::cout << returned << " faces returned from the tiny images, each with landmarks\n";
}

TEST(ModelContractTest, GarbageFileIsAModelErrorNamingTheFile) {
  TempDir dir;
  testing::WriteBytes(dir / "det_garbage.onnx", std::vector<uint8_t>(1000, 0x5a));
  auto detector = OpenScrfdDetector(dir / "det_garbage.onnx");
  ASSERT_FALSE(detector.ok());
  EXPECT_EQ(detector.status().code(), StatusCode::kModelError);
  EXPECT_NE(detector.status().message().find("det_garbage.onnx"), std::string::npos);
  auto missing = OpenArcFaceEmbedder(dir / "missing.onnx");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kModelError);
}

TEST(ModelContractTest, WrongKindOfModelIsRefusedWithTheExpectedContract) {
  FACEFILL_REQUIRE_PATH(DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (models)");
  auto recogniser_as_detector = OpenScrfdDetector(DefaultPackDir() / "fr_feature.onnx");
  ASSERT_FALSE(recogniser_as_detector.ok());
  EXPECT_EQ(recogniser_as_detector.status().code(), StatusCode::kModelError);
  EXPECT_NE(recogniser_as_detector.status().message().find("not a usable SCRFD detector"), std::string::npos);
  auto detector_as_recogniser = OpenArcFaceEmbedder(SharedDir() / "models/scrfd/det_500m.onnx");
  ASSERT_FALSE(detector_as_recogniser.ok());
  EXPECT_NE(detector_as_recogniser.status().message().find("not an ArcFace-style recogniser"), std::string::npos);
}

TEST(ModelContractTest, EmbedderDetectsNormalisationAndBatchFromGraph) {
  FACEFILL_REQUIRE_PATH(DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  // fr_feature has no Sub/Mul among its first nodes: InsightFace's rule gives 127.5 / 127.5; batch fixed at 1.
  auto embedder = OpenArcFaceEmbedder(DefaultPackDir() / "fr_feature.onnx");
  ASSERT_TRUE(embedder.ok()) << embedder.status().ToString();
  EXPECT_FLOAT_EQ((*embedder)->input_mean(), 127.5f);
  EXPECT_FLOAT_EQ((*embedder)->input_std(), 127.5f);
  EXPECT_EQ((*embedder)->batch_limit(), 1);
  EXPECT_EQ((*embedder)->dimension(), 512);
  // Many faces in one call still work (one model call each) and equal single calls.
  cv::Mat a(112, 112, CV_8UC3, cv::Scalar(10, 120, 200)), b(112, 112, CV_8UC3, cv::Scalar(200, 20, 90));
  std::vector<cv::Mat> both = {a, b};
  auto batch = (*embedder)->Embed(both);
  auto single = (*embedder)->Embed(std::span<const cv::Mat>(&b, 1));
  ASSERT_TRUE(batch.ok() && single.ok());
  EXPECT_EQ((*batch)[1], (*single)[0]);
}

TEST(ModelPackTest, MissingFolderSaysWhereItLooked) {
  auto pack = LocateModelPack({"/nonexistent/pack", "", ""});
  ASSERT_FALSE(pack.ok());
  EXPECT_EQ(pack.status().code(), StatusCode::kNotFound);
  EXPECT_NE(pack.status().message().find("/nonexistent/pack"), std::string::npos);
}

TEST(ModelPackTest, InsightFaceFolderIsRecognised) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (models)");
  FACEFILL_REQUIRE_PATH(DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  // A buffalo-like folder: det_*.onnx + a recogniser + an auxiliary model that must be ignored.
  TempDir dir;
  std::filesystem::copy_file(SharedDir() / "models/scrfd/det_500m.onnx", dir / "det_500m.onnx");
  std::filesystem::copy_file(DefaultPackDir() / "fr_feature.onnx", dir / "w600k_mbf.onnx");
  std::filesystem::copy_file(DefaultPackDir() / "fr_landmark.onnx", dir / "2d106det.onnx");
  auto pack = LocateModelPack({dir.path(), "", ""});
  ASSERT_TRUE(pack.ok()) << pack.status().ToString();
  EXPECT_EQ(pack->kind, PackKind::kInsightFace);
  EXPECT_EQ(pack->detector.filename(), "det_500m.onnx");
  EXPECT_EQ(pack->recognizer.filename(), "w600k_mbf.onnx");
  EXPECT_EQ(pack->id, "det_500m+w600k_mbf");
  EXPECT_TRUE(FaceAnalyzer::Open(*pack).ok());
}

}  // namespace
}  // namespace facefill
