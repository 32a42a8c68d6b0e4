// The benchmark corpus generator (deterministic, resumable) and the automatic reduced JPEG decode it exercises.
#include "facefill/corpus.h"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "facefill/image.h"
#include "test_support.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;
using testing::ReadBytes;
using testing::TempDir;

// Three source "photos" made here, so the generator is tested without any shared data.
fs::path MakeSources(const TempDir& dir) {
  const fs::path sources = dir / "sources";
  fs::create_directories(sources);
  for (int i = 0; i < 3; ++i) {
    cv::Mat photo(200 + 40 * i, 160 + 30 * i, CV_8UC3, cv::Scalar(40 * i, 90, 200 - 50 * i));
    cv::circle(photo, cv::Point(80, 90), 50, cv::Scalar(20, 160, 230), cv::FILLED);
    cv::imwrite((sources / ("photo" + std::to_string(i) + ".png")).string(), photo);
  }
  return sources;
}

TEST(CorpusTest, SameSeedSameFilesOtherSeedOtherFilesAndResumes) {
  TempDir dir;
  const auto sources = MakeSources(dir);
  CorpusOptions options;
  options.width = 640, options.height = 480, options.count = 4, options.seed = 7;
  auto first = GenerateCorpus({sources}, {}, dir / "a", options);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->written, 4);
  auto second = GenerateCorpus({sources}, {}, dir / "b", options);
  ASSERT_TRUE(second.ok());
  const std::string name = "corpus_7_640x480_2.jpg";
  EXPECT_EQ(ReadBytes(dir / "a" / name), ReadBytes(dir / "b" / name));
  auto decoded = DecodeImageFile(dir / "a" / name);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->width, 640);
  EXPECT_EQ(decoded->height, 480);
  options.seed = 8;
  ASSERT_TRUE(GenerateCorpus({sources}, {}, dir / "c", options).ok());
  EXPECT_NE(ReadBytes(dir / "a" / name), ReadBytes(dir / "c" / "corpus_8_640x480_2.jpg"));
  // A second run into the same folder keeps what is there.
  options.seed = 7;
  options.count = 6;
  auto resumed = GenerateCorpus({sources}, {}, dir / "a", options);
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(resumed->skipped_existing, 4);
  EXPECT_EQ(resumed->written, 2);
}

TEST(CorpusTest, NoSourcesIsAnError) {
  TempDir dir;
  auto report = GenerateCorpus({dir / "nothing"}, {}, dir / "out", CorpusOptions{});
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kNotFound);
}

TEST(AutoDecodeTest, LargeJpegIsReducedKeepingTheShorterSideAboveTheFloor) {
  std::vector<uint8_t> jpeg, png;
  cv::Mat big(2000, 2400, CV_8UC3, cv::Scalar(10, 200, 30));
  cv::imencode(".jpg", big, jpeg);
  cv::imencode(".png", big, png);
  DecodeOptions automatic;
  automatic.reduce = 0;
  auto reduced = DecodeImage(jpeg, "big.jpg", automatic);
  ASSERT_TRUE(reduced.ok());
  EXPECT_EQ(reduced->bgr.cols, 1200);  // 1/2: shorter side 1000 >= 1000; 1/4 would be 500
  EXPECT_EQ(reduced->width, 2400);
  EXPECT_DOUBLE_EQ(reduced->scale, 0.5);
  auto full_png = DecodeImage(png, "big.png", automatic);
  ASSERT_TRUE(full_png.ok());
  EXPECT_EQ(full_png->bgr.cols, 2400) << "formats without native scaled decode are decoded in full";
  cv::Mat small(600, 800, CV_8UC3, cv::Scalar::all(90));
  std::vector<uint8_t> small_jpeg;
  cv::imencode(".jpg", small, small_jpeg);
  auto untouched = DecodeImage(small_jpeg, "small.jpg", automatic);
  ASSERT_TRUE(untouched.ok());
  EXPECT_EQ(untouched->bgr.cols, 800);
}

}  // namespace
}  // namespace facefill
