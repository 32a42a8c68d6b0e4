// Region decode on real photos: full-resolution face regions equal a full decode's pixels in every EXIF orientation,
// crops aligned from them equal a full decode's, truncated data is a clear error, and the CLI's switch.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "facefill/analyzer.h"
#include "facefill/backfill.h"
#include "facefill/image.h"
#include "pipeline/region_align.h"
#include "test_support.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;
using testing::DefaultPackDir;
using testing::ReadBytes;
using testing::SharedDir;
using testing::TempDir;

// A photo upscaled to a 12 MP camera frame (4000 px on its longer side) and encoded as a baseline JPEG, as the
// benchmark corpus's images are.
std::vector<uint8_t> TwelveMegapixel(const fs::path& photo) {
  cv::Mat image = cv::imread(photo.string(), cv::IMREAD_COLOR);
  const double k = 4000.0 / std::max(image.cols, image.rows);
  cv::resize(image, image, cv::Size(), k, k, cv::INTER_CUBIC);
  std::vector<uint8_t> jpeg;
  cv::imencode(".jpg", image, jpeg, {cv::IMWRITE_JPEG_QUALITY, 92});
  return jpeg;
}

DecodeOptions FullDecode() {
  DecodeOptions full;
  full.reduce = 1;
  return full;
}

class RegionDecodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    FACEFILL_REQUIRE_PATH(SharedDir(), "../shared (models, photos)");
    FACEFILL_REQUIRE_PATH(DefaultPackDir(), "the default model pack (scripts/setup.sh)");
    auto pack = LocateModelPack({"", SharedDir() / "models/scrfd/det_2.5g.onnx", DefaultPackDir() / "fr_feature.onnx"});
    ASSERT_TRUE(pack.ok()) << pack.status().ToString();
    auto analyzer = FaceAnalyzer::Open(*pack);
    ASSERT_TRUE(analyzer.ok()) << analyzer.status().ToString();
    analyzer_ = std::move(analyzer).value();
  }

  std::unique_ptr<FaceAnalyzer> analyzer_;
};

TEST_F(RegionDecodeTest, RegionsEqualAFullDecodeInEveryOrientation) {
  const fs::path images = SharedDir() / "images";
  int compared = 0;
  // Baseline and progressive files, 4:2:0 and other samplings, sizes that are no multiple of the block size.
  for (const char* photo : {"obama/obama.jpg", "celeb/alex_lacamoire_3.jpg", "group/obama_and_biden_waving.jpg",
                            "group/hpc203_selfie_crowd.jpg", "dlib_voc/2008_001322.jpg"}) {
    const auto original = ReadBytes(images / photo);
    for (uint16_t orientation = 1; orientation <= 8; ++orientation) {
      const auto jpeg = testing::WithExifOrientation(original, orientation);
      auto full = DecodeImage(jpeg, photo, FullDecode());
      ASSERT_TRUE(full.ok()) << full.status().ToString();
      ASSERT_EQ(full->orientation, orientation);
      const int w = full->bgr.cols, h = full->bgr.rows;
      // Inside, at each corner and edge, odd offsets and sizes, one across the whole width, one single pixel.
      const std::vector<cv::Rect> rects = {
          {w / 3, h / 3, w / 5, h / 7}, {0, 0, 37, 53},       {w - 41, h - 29, 41, 29},    {0, h / 2, w, 17},
          {w - 19, 3, 19, h / 2},       {5, h - 71, 101, 71}, {w / 2 + 7, h / 2 + 3, 1, 1}};
      auto regions = DecodeJpegRegions(jpeg, full->orientation, rects, photo);
      ASSERT_TRUE(regions.ok()) << regions.status().ToString();
      ASSERT_EQ(regions->size(), rects.size());
      for (size_t i = 0; i < rects.size(); ++i) {
        const cv::Mat& got = (*regions)[i];
        ASSERT_EQ(got.size(), rects[i].size()) << photo << " orientation " << orientation << " region " << i;
        EXPECT_EQ(cv::norm(got, full->bgr(rects[i]), cv::NORM_INF), 0)
            << photo << " orientation " << orientation << " region " << i;
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 5 * 8 * 7);
}

TEST_F(RegionDecodeTest, RegionsOutsideTheImageAreRefused) {
  const auto jpeg = ReadBytes(SharedDir() / "images/obama/obama.jpg");
  const std::vector<cv::Rect> outside = {{-1, 0, 10, 10}};
  auto regions = DecodeJpegRegions(jpeg, 1, outside, "obama.jpg");
  ASSERT_FALSE(regions.ok());
  EXPECT_EQ(regions.status().code(), StatusCode::kInvalidArgument);
}

// Every shared JPEG (and rotated and 12 MP copies): the decode policy with region decode on.
struct Photo {
  std::string name;
  std::vector<uint8_t> jpeg;
};
std::vector<Photo> SharedJpegs(bool twelve_megapixel_only) {
  std::vector<Photo> photos;
  if (!twelve_megapixel_only) {
    for (const auto& e : fs::recursive_directory_iterator(SharedDir() / "images")) {
      if (!e.is_regular_file()) continue;
      auto bytes = ReadBytes(e.path());
      if (SniffImageFormat(bytes) != ImageFormat::kJpeg) continue;
      const std::string name = fs::relative(e.path(), SharedDir() / "images").string();
      // Rotated copies: EXIF 6 and 8 (axes swapped) and 3.
      for (uint16_t orientation : {3, 6, 8}) {
        photos.push_back(
            {fmt::format("{} (EXIF {})", name, orientation), testing::WithExifOrientation(bytes, orientation)});
      }
      photos.push_back({name, std::move(bytes)});
    }
  }
  for (const char* photo : {"group/insightface_t1.jpg", "group/dlib_bald_guys.jpg", "celeb/kit_harington_1.jpeg",
                            "obama/obama.jpg", "biden/biden2.jpg"}) {
    auto big = TwelveMegapixel(SharedDir() / "images" / photo);
    photos.push_back({fmt::format("{} at 12 MP (EXIF 6)", photo), testing::WithExifOrientation(big, 6)});
    photos.push_back({fmt::format("{} at 12 MP", photo), std::move(big)});
  }
  return photos;
}

// What `backfill --region-decode` decodes with (it implies --decode-scale 0).
DecodeOptions RegionPolicy() {
  DecodeOptions policy = BackfillOptions().decode;
  policy.reduce = 0;
  policy.region_decode = true;
  return policy;
}

// Alignment from the regions is alignment from a full decode: given the same landmarks (a full decode's, mapped
// to the reduced image), every crop and embedding equals the full decode's.
TEST_F(RegionDecodeTest, CropsFromRegionsEqualCropsFromAFullDecode) {
  int region_images = 0;
  size_t faces = 0;
  for (const auto& photo : SharedJpegs(false)) {
    auto full = DecodeImage(photo.jpeg, photo.name, FullDecode());
    ASSERT_TRUE(full.ok()) << full.status().ToString();
    auto image = DecodeImageKeepingBytes(photo.jpeg, photo.name, RegionPolicy());
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    if (image->jpeg == nullptr) {
      EXPECT_EQ(image->scale, 1.0) << photo.name << ": reduced but nothing kept to decode its faces from";
      continue;
    }
    ++region_images;
    EXPECT_LT(image->scale, 1.0);
    EXPECT_GE(std::max(image->bgr.cols, image->bgr.rows), RegionPolicy().detect_side) << photo.name;
    EXPECT_LT(std::max(image->bgr.cols, image->bgr.rows), 2 * RegionPolicy().detect_side) << photo.name;
    auto detections = analyzer_->Detect(full->bgr);
    ASSERT_TRUE(detections.ok()) << detections.status().ToString();
    std::vector<FiveLandmarks> in_reduced;
    std::vector<cv::Mat> expected;
    for (const auto& d : *detections) {
      FiveLandmarks l = d.landmarks;
      for (auto& p : l) p = {static_cast<float>(p.x * image->scale), static_cast<float>(p.y * image->scale)};
      in_reduced.push_back(l);
      expected.push_back(analyzer_->Align(full->bgr, d.landmarks));
    }
    std::vector<cv::Mat> crops;
    ASSERT_TRUE(pipeline::AlignFaces(*analyzer_, *image, in_reduced, photo.name, &crops).ok());
    ASSERT_EQ(crops.size(), expected.size());
    if (crops.empty()) continue;
    auto ours = analyzer_->Embed(crops), theirs = analyzer_->Embed(expected);
    ASSERT_TRUE(ours.ok() && theirs.ok());
    for (size_t i = 0; i < crops.size(); ++i, ++faces) {
      EXPECT_LE(cv::norm(crops[i], expected[i], cv::NORM_INF), 1) << photo.name << " face " << i;
      EXPECT_GE(CosineSimilarity((*ours)[i], (*theirs)[i]), 0.9999f) << photo.name << " face " << i;
    }
  }
  std::cout << region_images << " region-decoded images, " << faces << " faces\n";
  EXPECT_GE(region_images, 40);
  EXPECT_GE(faces, 200u);
}

// The whole policy on 12 MP photos: faces found on the reduced decode and aligned from full-resolution regions,
// against a full decode's. Region decode keeps embeddings closer to the full decode's than aligning from the
// reduced pixels does; what remains is the detector's landmarks on a different input (printed, not 0.995).
TEST_F(RegionDecodeTest, RegionsKeepEmbeddingsCloserToAFullDecode) {
  std::vector<double> cosines[2];  // [0]: aligned from the reduced pixels, [1]: from full-resolution regions
  for (const auto& photo : SharedJpegs(true)) {
    // Upright only: the detector finds faces lying on their side unreliably at any scale.
    if (photo.name.find("EXIF") != std::string::npos) continue;
    auto full = DecodeImage(photo.jpeg, photo.name, FullDecode());
    ASSERT_TRUE(full.ok()) << full.status().ToString();
    auto reference = analyzer_->Analyze(full->bgr);
    ASSERT_TRUE(reference.ok()) << reference.status().ToString();
    auto image = DecodeImageKeepingBytes(photo.jpeg, photo.name, RegionPolicy());
    ASSERT_TRUE(image.ok()) << image.status().ToString();
    ASSERT_NE(image->jpeg, nullptr) << photo.name;
    auto detections = analyzer_->Detect(image->bgr);
    ASSERT_TRUE(detections.ok()) << detections.status().ToString();
    std::vector<FiveLandmarks> landmarks;
    for (const auto& d : *detections) landmarks.push_back(d.landmarks);
    for (int region : {0, 1}) {
      DecodedImage source = *image;
      if (region == 0) source.jpeg = nullptr;
      std::vector<cv::Mat> crops;
      ASSERT_TRUE(pipeline::AlignFaces(*analyzer_, source, landmarks, photo.name, &crops).ok());
      auto embeddings = analyzer_->Embed(crops);
      ASSERT_TRUE(embeddings.ok()) << embeddings.status().ToString();
      for (const auto& face : *reference) {
        float best_iou = 0;
        size_t best = 0;
        for (size_t i = 0; i < detections->size(); ++i) {
          const BoxF& b = (*detections)[i].box;
          const auto k = static_cast<float>(1 / image->scale);
          const float iou = BoxIou(face.detection.box, BoxF{b.x1 * k, b.y1 * k, b.x2 * k, b.y2 * k});
          if (iou > best_iou) best_iou = iou, best = i;
        }
        if (best_iou >= 0.5f) cosines[region].push_back(CosineSimilarity(face.embedding, (*embeddings)[best]));
      }
    }
  }
  ASSERT_GE(cosines[1].size(), 25u);
  ASSERT_EQ(cosines[0].size(), cosines[1].size());
  for (auto& c : cosines) std::sort(c.begin(), c.end());
  const size_t mid = cosines[1].size() / 2;
  std::cout << cosines[1].size() << " faces against a full decode: aligned from the reduced pixels min "
            << cosines[0][0] << " median " << cosines[0][mid] << "; from full-resolution regions min " << cosines[1][0]
            << " median " << cosines[1][mid] << "\n";
  EXPECT_GT(cosines[1][0], cosines[0][0]);
  EXPECT_GT(cosines[1][mid], cosines[0][mid]);
}

TEST_F(RegionDecodeTest, TruncatedJpegIsACorruptImageWithItsReason) {
  const auto jpeg = ReadBytes(SharedDir() / "images/celeb/alex_lacamoire_3.jpg");
  const std::vector<uint8_t> truncated(jpeg.begin(), jpeg.begin() + static_cast<long>(jpeg.size() * 6 / 10));
  auto image = DecodeImageKeepingBytes(truncated, "truncated.jpg", BackfillOptions().decode);
  ASSERT_FALSE(image.ok());
  EXPECT_EQ(image.status().code(), StatusCode::kCorruptImage);
  EXPECT_NE(image.status().message().find("truncated"), std::string::npos) << image.status().ToString();
  // The region decoder on its own: rows still present decode, rows past the end are refused with the reason.
  auto whole = DecodeImage(jpeg, "whole.jpg", FullDecode());
  ASSERT_TRUE(whole.ok());
  const int w = whole->bgr.cols, h = whole->bgr.rows;
  const std::vector<cv::Rect> top = {{w / 4, 16, w / 2, h / 8}}, bottom = {{w / 4, h - h / 8, w / 2, h / 8}};
  auto present = DecodeJpegRegions(truncated, whole->orientation, top, "truncated.jpg");
  ASSERT_TRUE(present.ok()) << present.status().ToString();
  EXPECT_EQ(cv::norm((*present)[0], whole->bgr(top[0]), cv::NORM_INF), 0);
  auto missing = DecodeJpegRegions(truncated, whole->orientation, bottom, "truncated.jpg");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kCorruptImage);
  EXPECT_NE(missing.status().message().find("truncated"), std::string::npos) << missing.status().ToString();
  std::vector<uint8_t> garbage = {0xFF, 0xD8, 0xFF, 0xDB, 0, 3, 1};
  auto broken = DecodeJpegRegions(garbage, 1, top, "garbage.jpg");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.status().code(), StatusCode::kCorruptImage);
}

// A region that cannot be decoded is the image's error with its reason (the backfill records it for the asset),
// and no crop is appended.
TEST_F(RegionDecodeTest, ARegionDecodeFailureIsTheImagesError) {
  const auto big = TwelveMegapixel(SharedDir() / "images/group/insightface_t1.jpg");
  auto image = DecodeImageKeepingBytes(big, "t1.jpg", RegionPolicy());
  ASSERT_TRUE(image.ok());
  ASSERT_NE(image->jpeg, nullptr);
  auto detections = analyzer_->Detect(image->bgr);
  ASSERT_TRUE(detections.ok());
  ASSERT_FALSE(detections->empty());
  std::vector<FiveLandmarks> landmarks;
  for (const auto& d : *detections) landmarks.push_back(d.landmarks);
  // The kept bytes lose all but their first eighth after the reduced decode: the faces' rows are gone.
  image->jpeg =
      std::make_shared<const std::vector<uint8_t>>(big.begin(), big.begin() + static_cast<long>(big.size() / 8));
  std::vector<cv::Mat> crops(1);
  Status status = pipeline::AlignFaces(*analyzer_, *image, landmarks, "t1.jpg", &crops);
  EXPECT_EQ(status.code(), StatusCode::kCorruptImage) << status.ToString();
  EXPECT_NE(status.message().find("t1.jpg: jpeg data is truncated"), std::string::npos) << status.ToString();
  EXPECT_EQ(crops.size(), 1u);
}

// The stored vector of each face of the catalog's only asset.
std::vector<std::vector<float>> StoredVectors(const fs::path& db_path) {
  sqlite3* db = nullptr;
  sqlite3_open(db_path.c_str(), &db);
  sqlite3_stmt* stmt = nullptr;
  sqlite3_prepare_v2(db, "SELECT embedding FROM facefill_face_vectors", -1, &stmt, nullptr);
  std::vector<std::vector<float>> vectors;
  while (sqlite3_step(stmt) == SQLITE_ROW) {
    const auto* blob = static_cast<const float*>(sqlite3_column_blob(stmt, 0));
    vectors.emplace_back(blob, blob + sqlite3_column_bytes(stmt, 0) / sizeof(float));
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return vectors;
}

// Each stored vector's closest embedding among `expected`.
double LowestBestCosine(const std::vector<std::vector<float>>& stored, const std::vector<Embedding>& expected) {
  double lowest = 1;
  for (const auto& v : stored) {
    double best = -1;
    for (const auto& e : expected) best = std::max<double>(best, CosineSimilarity(e, v));
    lowest = std::min(lowest, best);
  }
  return lowest;
}

// `backfill` stores the vectors of a full decode's faces by default; with --region-decode, those of faces found on
// the reduced decode and aligned from full-resolution regions; with --decode-scale 0, those aligned from the reduced
// decode.
TEST_F(RegionDecodeTest, BackfillRegionDecodeFlag) {
  TempDir dir;
  fs::create_directories(dir / "photos");
  const auto big = TwelveMegapixel(SharedDir() / "images/group/insightface_t1.jpg");
  testing::WriteBytes(dir / "photos/t1.jpg", big);
  // The three decode policies: the default (full resolution), --region-decode (which implies --decode-scale 0), and
  // --decode-scale 0 (large JPEGs reduced). What each one's steps give, computed here.
  const std::vector<std::string> flags = {"", " --region-decode", " --decode-scale 0"};
  std::vector<Embedding> expected[3];
  for (int policy_index : {0, 1, 2}) {
    DecodeOptions policy = BackfillOptions().decode;
    if (policy_index > 0) policy.reduce = 0;
    policy.region_decode = policy_index == 1;
    auto image = DecodeImageKeepingBytes(big, "t1.jpg", policy);
    ASSERT_TRUE(image.ok());
    ASSERT_EQ(image->jpeg != nullptr, policy_index == 1);
    ASSERT_EQ(image->scale == 1.0, policy_index == 0) << "the default decodes in full, the others reduced";
    auto detections = analyzer_->Detect(image->bgr);
    ASSERT_TRUE(detections.ok());
    std::vector<FiveLandmarks> landmarks;
    for (const auto& d : *detections) landmarks.push_back(d.landmarks);
    std::vector<cv::Mat> crops;
    ASSERT_TRUE(pipeline::AlignFaces(*analyzer_, *image, landmarks, "t1.jpg", &crops).ok());
    auto embeddings = analyzer_->Embed(crops);
    ASSERT_TRUE(embeddings.ok());
    expected[policy_index] = std::move(embeddings).value();
  }
  const std::string models = " --detector " + (SharedDir() / "models/scrfd/det_2.5g.onnx").string() + " --recognizer " +
                             (DefaultPackDir() / "fr_feature.onnx").string();
  std::vector<std::vector<float>> stored[3];
  for (int policy_index : {0, 1, 2}) {
    const fs::path db = dir / fmt::format("run{}.db", policy_index);
    ASSERT_EQ(testing::RunShell(fmt::format("{} scan {} --db sqlite:{} >/dev/null", FACEFILL_CLI,
                                            (dir / "photos").string(), db.string()))
                  .exit_code,
              0);
    auto run = testing::RunShell(
        fmt::format("{} backfill -q --db sqlite:{}{}{} 2>&1", FACEFILL_CLI, db.string(), models, flags[policy_index]));
    ASSERT_EQ(run.exit_code, 0) << run.out;
    stored[policy_index] = StoredVectors(db);
    ASSERT_GE(stored[policy_index].size(), 5u);
  }
  for (int policy_index : {0, 1, 2}) {
    EXPECT_GE(LowestBestCosine(stored[policy_index], expected[policy_index]), 0.9999) << flags[policy_index];
  }
  EXPECT_LT(LowestBestCosine(stored[1], expected[0]), 0.9999) << "--region-decode changed nothing";
  EXPECT_LT(LowestBestCosine(stored[2], expected[0]), 0.9999) << "--decode-scale 0 changed nothing";
  EXPECT_LT(LowestBestCosine(stored[1], expected[2]), 0.9999) << "--region-decode aligned from the reduced decode";
}

}  // namespace
}  // namespace facefill
