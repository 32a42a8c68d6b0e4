// Batched detection and embedding with models made batch-capable by `models batchify`: every shared photo gives
// exactly the faces (and every face the embedding) of one-at-a-time runs of the original models.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "facefill/align.h"
#include "facefill/detector.h"
#include "facefill/embedder.h"
#include "facefill/image.h"
#include "test_support.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;
using testing::DefaultPackDir;
using testing::SharedDir;
using testing::TempDir;

// The shared photos the InsightFace reference covers (every photo with faces), decoded.
std::vector<std::pair<std::string, cv::Mat>> SharedPhotos() {
  std::ifstream in(SharedDir() / "reference/scrfd_detections.json");
  const auto reference = nlohmann::json::parse(in);
  std::vector<std::pair<std::string, cv::Mat>> photos;
  for (const auto& [image, unused] : reference.items()) {
    auto decoded = DecodeImageFile(SharedDir() / image);
    EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
    if (decoded.ok()) photos.emplace_back(image, std::move(decoded->bgr));
  }
  return photos;
}

// Differences between two detections of one photo, one message each, naming the photo and the face.
std::vector<std::string> Differences(const std::string& image, const std::vector<FaceDetection>& expected,
                                     const std::vector<FaceDetection>& found, float tolerance) {
  if (expected.size() != found.size()) {
    return {fmt::format("{}: {} faces alone, {} in the batch", image, expected.size(), found.size())};
  }
  std::vector<std::string> problems;
  for (size_t i = 0; i < expected.size(); ++i) {
    const auto& a = expected[i];
    const auto& b = found[i];
    float worst = std::abs(a.score - b.score);
    for (float d : {a.box.x1 - b.box.x1, a.box.y1 - b.box.y1, a.box.x2 - b.box.x2, a.box.y2 - b.box.y2}) {
      worst = std::max(worst, std::abs(d));
    }
    for (int p = 0; p < 5; ++p) {
      worst = std::max(
          {worst, std::abs(a.landmarks[p].x - b.landmarks[p].x), std::abs(a.landmarks[p].y - b.landmarks[p].y)});
    }
    if (!(worst <= tolerance)) problems.push_back(fmt::format("{} face {}: differs by {:.3g}", image, i, worst));
  }
  return problems;
}

struct DetectCase {
  std::string model;
  bool tight_input;
};

void PrintTo(const DetectCase& c, std::ostream* os) { *os << c.model << (c.tight_input ? " tight" : ""); }

class BatchDetectTest : public ::testing::TestWithParam<DetectCase> {};

TEST_P(BatchDetectTest, BatchGivesTheFacesOfSingleImageDetection) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (models, photos, reference)");
  TempDir dir;
  const fs::path original = SharedDir() / "models/scrfd" / (GetParam().model + ".onnx");
  const fs::path batched = testing::BatchifiedCopy(original, dir);
  DetectorOptions options;
  options.tight_input = GetParam().tight_input;
  auto single = OpenScrfdDetector(original, options);
  ASSERT_TRUE(single.ok()) << single.status().ToString();
  EXPECT_EQ((*single)->batch_limit(), 1);
  auto batch = OpenScrfdDetector(batched, options);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ((*batch)->batch_limit(), options.max_batch) << (*batch)->Describe();

  const auto photos = SharedPhotos();
  ASSERT_GE(photos.size(), 50u);
  std::vector<cv::Mat> images;
  for (const auto& photo : photos) images.push_back(photo.second);
  auto together = (*batch)->DetectBatch(images);
  ASSERT_TRUE(together.ok()) << together.status().ToString();
  ASSERT_EQ(together->size(), photos.size());
  size_t faces = 0;
  std::vector<std::string> problems;
  for (size_t i = 0; i < photos.size(); ++i) {
    auto alone = (*single)->Detect(photos[i].second);
    ASSERT_TRUE(alone.ok()) << photos[i].first << ": " << alone.status().ToString();
    faces += alone->size();
    auto found = Differences(photos[i].first, *alone, (*together)[i], 1e-4f);
    problems.insert(problems.end(), found.begin(), found.end());
  }
  EXPECT_GT(faces, 200u);
  for (const auto& p : problems) ADD_FAILURE() << p;
  std::cout << GetParam().model << (GetParam().tight_input ? " tight" : "") << ": " << photos.size() << " photos, "
            << faces << " faces, " << problems.size() << " differences\n";
}

INSTANTIATE_TEST_SUITE_P(Models, BatchDetectTest,
                         ::testing::Values(DetectCase{"det_500m", false}, DetectCase{"det_2.5g", false},
                                           DetectCase{"det_500m", true}, DetectCase{"det_2.5g", true}),
                         [](const ::testing::TestParamInfo<DetectCase>& param_info) {
                           std::string name = param_info.param.model + (param_info.param.tight_input ? "_tight" : "");
                           for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return name;
                         });

TEST(BatchEmbedTest, BatchifiedRecogniserGivesTheSingleFaceEmbeddings) {
  FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (models, photos, reference)");
  FACEFILL_REQUIRE_PATH(DefaultPackDir(), "the default model pack (scripts/setup.sh)");
  TempDir dir;
  const fs::path original = DefaultPackDir() / "fr_feature.onnx";
  const fs::path batched = testing::BatchifiedCopy(original, dir);
  // The default pack's normalisation (model_pack.cc), given explicitly: the file name no longer says which pack.
  EmbedderOptions options;
  options.input_mean = 127.0f;
  options.input_std = 128.0f;
  auto single = OpenArcFaceEmbedder(original, options);
  ASSERT_TRUE(single.ok()) << single.status().ToString();
  EXPECT_EQ((*single)->batch_limit(), 1);
  auto batch = OpenArcFaceEmbedder(batched, options);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ((*batch)->batch_limit(), options.max_batch);

  // Real aligned faces: the first 100 SCRFD finds in the shared photos (several batches, the last one partial).
  auto detector = OpenScrfdDetector(SharedDir() / "models/scrfd/det_500m.onnx");
  ASSERT_TRUE(detector.ok()) << detector.status().ToString();
  std::vector<cv::Mat> crops;
  for (const auto& [image, bgr] : SharedPhotos()) {
    auto faces = (*detector)->Detect(bgr);
    ASSERT_TRUE(faces.ok()) << image << ": " << faces.status().ToString();
    for (const auto& face : *faces) {
      if (crops.size() < 100) crops.push_back(AlignFace(bgr, face.landmarks));
    }
  }
  ASSERT_EQ(crops.size(), 100u);
  auto together = (*batch)->Embed(crops);
  ASSERT_TRUE(together.ok()) << together.status().ToString();
  ASSERT_EQ(together->size(), crops.size());
  float worst = 0;
  for (size_t i = 0; i < crops.size(); ++i) {
    auto alone = (*single)->Embed(std::span<const cv::Mat>(&crops[i], 1));
    ASSERT_TRUE(alone.ok()) << alone.status().ToString();
    for (size_t k = 0; k < (*alone)[0].size(); ++k)
      worst = std::max(worst, std::abs((*alone)[0][k] - (*together)[i][k]));
  }
  EXPECT_LE(worst, 1e-5f);
  std::cout << crops.size() << " faces in batches of " << options.max_batch << ": largest difference " << worst << "\n";
}

}  // namespace
}  // namespace facefill
