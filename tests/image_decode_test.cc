// Image decoding on real files made in the test: every format we accept, EXIF orientation, misnamed files, and
// every kind of broken input with its typed error.
#include <gtest/gtest.h>
#include <libheif/heif.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "facefill/image.h"
#include "test_support.h"

namespace facefill {
namespace {

using testing::ReadBytes;
using testing::TempDir;
using testing::WriteBytes;

// A 64x48 test card: red left half, blue right half, so orientation is visible.
cv::Mat TestCard(int width = 64, int height = 48) {
  cv::Mat m(height, width, CV_8UC3, cv::Scalar(255, 0, 0));           // blue (BGR)
  m(cv::Rect(0, 0, width / 2, height)).setTo(cv::Scalar(0, 0, 255));  // red left half
  return m;
}

std::vector<uint8_t> Encode(const std::string& ext, const cv::Mat& image, std::vector<int> params = {}) {
  std::vector<uint8_t> bytes;
  EXPECT_TRUE(cv::imencode(ext, image, bytes, params));
  return bytes;
}

void AppendChunk(std::vector<uint8_t>* png, const char* type, const std::vector<uint8_t>& data) {
  const uint32_t length = static_cast<uint32_t>(data.size());
  for (int s = 24; s >= 0; s -= 8) png->push_back(static_cast<uint8_t>(length >> s));
  std::vector<uint8_t> body(type, type + 4);
  body.insert(body.end(), data.begin(), data.end());
  png->insert(png->end(), body.begin(), body.end());
  const uint32_t crc = static_cast<uint32_t>(crc32(0, body.data(), static_cast<uInt>(body.size())));
  for (int s = 24; s >= 0; s -= 8) png->push_back(static_cast<uint8_t>(crc >> s));
}

// A palette (colour type 3) PNG, which OpenCV cannot write: left half palette entry 0 (red), right half 1 (blue).
std::vector<uint8_t> PalettePng(uint32_t width, uint32_t height) {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  std::vector<uint8_t> ihdr;
  for (uint32_t v : {width, height})
    for (int s = 24; s >= 0; s -= 8) ihdr.push_back(static_cast<uint8_t>(v >> s));
  ihdr.insert(ihdr.end(), {8, 3, 0, 0, 0});  // 8-bit, palette
  AppendChunk(&png, "IHDR", ihdr);
  AppendChunk(&png, "PLTE", {255, 0, 0, 0, 0, 255});
  std::vector<uint8_t> raw;
  for (uint32_t y = 0; y < height; ++y) {
    raw.push_back(0);  // filter: none
    for (uint32_t x = 0; x < width; ++x) raw.push_back(x < width / 2 ? 0 : 1);
  }
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::vector<uint8_t> compressed(size);
  compress(compressed.data(), &size, raw.data(), static_cast<uLong>(raw.size()));
  compressed.resize(size);
  AppendChunk(&png, "IDAT", compressed);
  AppendChunk(&png, "IEND", {});
  return png;
}

// HEIC through libheif's HEVC encoder, optionally carrying EXIF orientation metadata.
std::vector<uint8_t> Heic(const cv::Mat& bgr, int exif_orientation) {
  heif_context* context = heif_context_alloc();
  heif_encoder* encoder = nullptr;
  EXPECT_EQ(heif_context_get_encoder_for_format(context, heif_compression_HEVC, &encoder).code, heif_error_Ok);
  heif_encoder_set_lossy_quality(encoder, 90);
  heif_image* image = nullptr;
  heif_image_create(bgr.cols, bgr.rows, heif_colorspace_RGB, heif_chroma_interleaved_RGB, &image);
  heif_image_add_plane(image, heif_channel_interleaved, bgr.cols, bgr.rows, 8);
  int stride = 0;
  uint8_t* plane = heif_image_get_plane(image, heif_channel_interleaved, &stride);
  cv::Mat rgb(bgr.rows, bgr.cols, CV_8UC3, plane, static_cast<size_t>(stride));
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  heif_image_handle* handle = nullptr;
  EXPECT_EQ(heif_context_encode_image(context, image, encoder, nullptr, &handle).code, heif_error_Ok);
  if (exif_orientation != 1) {
    auto block = testing::ExifBlock(static_cast<uint16_t>(exif_orientation));
    heif_context_add_exif_metadata(context, handle, block.data(), static_cast<int>(block.size()));
  }
  heif_writer writer;
  writer.writer_api_version = 1;
  writer.write = [](heif_context*, const void* data, size_t size, void* userdata) {
    auto* out = static_cast<std::vector<uint8_t>*>(userdata);
    out->insert(out->end(), static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + size);
    return heif_error{heif_error_Ok, heif_suberror_Unspecified, "ok"};
  };
  std::vector<uint8_t> bytes;
  heif_context_write(context, &writer, &bytes);
  heif_image_handle_release(handle);
  heif_image_release(image);
  heif_encoder_release(encoder);
  heif_context_free(context);
  return bytes;
}

// Red where the card's red half should be after decoding: checks the colour at two points.
void ExpectRedLeftBlueRight(const cv::Mat& bgr, const std::string& what) {
  ASSERT_FALSE(bgr.empty()) << what;
  auto left = bgr.at<cv::Vec3b>(bgr.rows / 2, bgr.cols / 8);
  auto right = bgr.at<cv::Vec3b>(bgr.rows / 2, bgr.cols * 7 / 8);
  EXPECT_GT(left[2], 200) << what << ": left should be red";
  EXPECT_LT(left[0], 60) << what;
  EXPECT_GT(right[0], 200) << what << ": right should be blue";
  EXPECT_LT(right[2], 60) << what;
}

TEST(ImageDecodeTest, DecodesEveryAcceptedFormat) {
  const cv::Mat card = TestCard();
  struct Case {
    std::string name;
    std::vector<uint8_t> bytes;
    ImageFormat format;
  };
  cv::Mat rgba;
  cv::cvtColor(card, rgba, cv::COLOR_BGR2BGRA);
  cv::Mat deep;
  card.convertTo(deep, CV_16UC3, 257.0);
  std::vector<Case> cases = {
      {"jpeg", Encode(".jpg", card, {cv::IMWRITE_JPEG_QUALITY, 95}), ImageFormat::kJpeg},
      {"png rgb", Encode(".png", card), ImageFormat::kPng},
      {"png rgba", Encode(".png", rgba), ImageFormat::kPng},
      {"png 16-bit", Encode(".png", deep), ImageFormat::kPng},
      {"png palette", PalettePng(64, 48), ImageFormat::kPng},
      {"webp", Encode(".webp", card, {cv::IMWRITE_WEBP_QUALITY, 100}), ImageFormat::kWebp},
      {"tiff", Encode(".tiff", card), ImageFormat::kTiff},
      {"bmp", Encode(".bmp", card), ImageFormat::kBmp},
      {"heic", Heic(card, 1), ImageFormat::kHeif},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(SniffImageFormat(c.bytes), c.format);
    auto header = ReadImageHeader(c.bytes);
    ASSERT_TRUE(header.ok()) << header.status().ToString();
    EXPECT_EQ(header->width, 64);
    EXPECT_EQ(header->height, 48);
    auto decoded = DecodeImage(c.bytes, c.name);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(decoded->bgr.type(), CV_8UC3);
    EXPECT_EQ(decoded->width, 64);
    EXPECT_EQ(decoded->height, 48);
    ExpectRedLeftBlueRight(decoded->bgr, c.name);
  }
}

TEST(ImageDecodeTest, JpegExifOrientationAppliedOnce) {
  const auto jpeg = Encode(".jpg", TestCard(), {cv::IMWRITE_JPEG_QUALITY, 95});
  // Orientation 6: stored landscape, shown rotated 90 degrees clockwise, so red moves to the top.
  auto decoded = DecodeImage(testing::WithExifOrientation(jpeg, 6), "exif6.jpg");
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->width, 48);
  EXPECT_EQ(decoded->height, 64);
  EXPECT_EQ(decoded->bgr.cols, 48);
  auto top = decoded->bgr.at<cv::Vec3b>(8, 24), bottom = decoded->bgr.at<cv::Vec3b>(56, 24);
  EXPECT_GT(top[2], 200);
  EXPECT_GT(bottom[0], 200);
  // Orientation 3: upside down, so red moves right.
  auto flipped = DecodeImage(testing::WithExifOrientation(jpeg, 3), "exif3.jpg");
  ASSERT_TRUE(flipped.ok());
  EXPECT_GT(flipped->bgr.at<cv::Vec3b>(24, 56)[2], 200);
  // Orientation ignored on request.
  DecodeOptions raw;
  raw.apply_orientation = false;
  auto ignored = DecodeImage(testing::WithExifOrientation(jpeg, 6), "exif6.jpg", raw);
  ASSERT_TRUE(ignored.ok());
  EXPECT_EQ(ignored->bgr.cols, 64);
}

TEST(ImageDecodeTest, HeicExifOrientationIsNotAppliedOnTopOfLibheif) {
  // HEIF carries rotation in its own irot box, which libheif applies; EXIF orientation in a HEIC is informative
  // only and must not rotate the image a second time.
  auto decoded = DecodeImage(Heic(TestCard(), 6), "exif6.heic");
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->width, 64);
  EXPECT_EQ(decoded->height, 48);
  ExpectRedLeftBlueRight(decoded->bgr, "heic with exif 6");
}

TEST(ImageDecodeTest, ReducedJpegDecodeKeepsFullSizeAndScale) {
  const auto jpeg = Encode(".jpg", TestCard(640, 480));
  DecodeOptions options;
  options.reduce = 2;
  auto decoded = DecodeImage(jpeg, "big.jpg", options);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->bgr.cols, 320);
  EXPECT_EQ(decoded->bgr.rows, 240);
  EXPECT_EQ(decoded->width, 640);
  EXPECT_EQ(decoded->height, 480);
  EXPECT_DOUBLE_EQ(decoded->scale, 0.5);
}

TEST(ImageDecodeTest, MisnamedFilesDecodeByContent) {
  TempDir dir;
  WriteBytes(dir / "really_a_png.jpg", Encode(".png", TestCard()));
  WriteBytes(dir / "really_a_jpeg.png", Encode(".jpg", TestCard()));
  auto png = DecodeImageFile(dir / "really_a_png.jpg");
  ASSERT_TRUE(png.ok()) << png.status().ToString();
  EXPECT_EQ(png->format, ImageFormat::kPng);
  auto jpeg = DecodeImageFile(dir / "really_a_jpeg.png");
  ASSERT_TRUE(jpeg.ok()) << jpeg.status().ToString();
  EXPECT_EQ(jpeg->format, ImageFormat::kJpeg);
}

struct BrokenCase {
  std::string file;
  StatusCode expected;
  std::string message_part;
};

TEST(ImageDecodeTest, BrokenInputsGiveTypedErrorsNamingTheFile) {
  TempDir dir;
  const auto jpeg = Encode(".jpg", TestCard(640, 480), {cv::IMWRITE_JPEG_QUALITY, 90});
  const auto png = Encode(".png", TestCard(640, 480));
  WriteBytes(dir / "empty.jpg", {});
  WriteBytes(dir / "truncated.jpg", std::vector<uint8_t>(jpeg.begin(), jpeg.begin() + jpeg.size() / 2));
  WriteBytes(dir / "truncated.png", std::vector<uint8_t>(png.begin(), png.begin() + png.size() / 2));
  std::string text = "this is not an image, whatever its name says\n";
  WriteBytes(dir / "text.jpg", std::vector<uint8_t>(text.begin(), text.end()));
  // Header claims a JPEG of 60000 x 60000 pixels; the guard must refuse it before decoding.
  auto bomb_jpeg = jpeg;
  for (size_t i = 2; i + 9 < bomb_jpeg.size(); ++i) {
    if (bomb_jpeg[i] == 0xFF && bomb_jpeg[i + 1] == 0xC0) {  // SOF0: length(2) precision(1) height(2) width(2)
      bomb_jpeg[i + 5] = 0xEA, bomb_jpeg[i + 6] = 0x60, bomb_jpeg[i + 7] = 0xEA, bomb_jpeg[i + 8] = 0x60;
      break;
    }
  }
  WriteBytes(dir / "bomb.jpg", bomb_jpeg);
  // A PNG whose IHDR says 100000 x 100000 (a classic decompression bomb).
  auto bomb_png = PalettePng(100000, 2);
  bomb_png[20] = 0x00, bomb_png[21] = 0x01, bomb_png[22] = 0x86, bomb_png[23] = 0xA0;
  WriteBytes(dir / "bomb.png", bomb_png);
  // Valid JPEG header, garbage entropy data.
  auto garbage = jpeg;
  for (size_t i = garbage.size() / 3; i < garbage.size() - 2; ++i) garbage[i] = static_cast<uint8_t>(i * 7919);
  WriteBytes(dir / "garbage.jpg", garbage);
  std::filesystem::create_directory(dir / "folder.jpg");

  const std::vector<BrokenCase> cases = {
      {"empty.jpg", StatusCode::kEmptyFile, "empty"},
      {"truncated.jpg", StatusCode::kCorruptImage, "truncated"},
      {"truncated.png", StatusCode::kCorruptImage, "png"},
      {"text.jpg", StatusCode::kUnsupportedFormat, "not a supported image format"},
      {"bomb.jpg", StatusCode::kImageTooLarge, "decompression bomb"},
      {"bomb.png", StatusCode::kImageTooLarge, "decompression bomb"},
      {"garbage.jpg", StatusCode::kCorruptImage, "jpeg"},
      {"missing.jpg", StatusCode::kNotFound, "does not exist"},
      {"folder.jpg", StatusCode::kUnsupportedFormat, "directory"},
  };
  for (const auto& c : cases) {
    auto decoded = DecodeImageFile(dir / c.file);
    ASSERT_FALSE(decoded.ok()) << c.file << " decoded but should not";
    EXPECT_EQ(decoded.status().code(), c.expected) << c.file << ": " << decoded.status().ToString();
    EXPECT_NE(decoded.status().message().find(c.file), std::string::npos) << decoded.status().message();
    EXPECT_NE(decoded.status().message().find(c.message_part), std::string::npos) << decoded.status().message();
  }
}

// Broken HEIC files: libheif explains most of them in messages that its context owns, so the reason must be copied
// before the context goes (a fuzzer found the header check reading a freed message).
TEST(ImageDecodeTest, BrokenHeicGivesCorruptImageWithLibheifsReason) {
  const auto heic = Heic(TestCard(), 1);
  ASSERT_GT(heic.size(), 200u);
  std::vector<std::pair<std::string, std::vector<uint8_t>>> cases;
  for (size_t cut : {size_t{40}, size_t{120}, heic.size() / 4, heic.size() / 2}) {
    cases.emplace_back("cut at " + std::to_string(cut), std::vector<uint8_t>(heic.begin(), heic.begin() + cut));
  }
  // The second box (after ftyp) claims to be larger than the file.
  auto oversized = heic;
  const size_t second = size_t{heic[0]} << 24 | size_t{heic[1]} << 16 | size_t{heic[2]} << 8 | heic[3];
  ASSERT_LT(second + 4, heic.size());
  oversized[second] = 0x7F, oversized[second + 1] = 0xFF;
  cases.emplace_back("oversized box", oversized);
  for (const auto& [what, bytes] : cases) {
    auto header = ReadImageHeader(bytes);
    ASSERT_FALSE(header.ok()) << what;
    EXPECT_EQ(header.status().code(), StatusCode::kCorruptImage) << what << ": " << header.status().ToString();
    EXPECT_NE(header.status().message().find("heif header: "), std::string::npos) << header.status().message();
    auto decoded = DecodeImage(bytes, "broken.heic");
    ASSERT_FALSE(decoded.ok()) << what;
    EXPECT_EQ(decoded.status().code(), StatusCode::kCorruptImage) << what << ": " << decoded.status().ToString();
    EXPECT_NE(decoded.status().message().find("broken.heic"), std::string::npos) << decoded.status().message();
  }
}

TEST(ImageDecodeTest, FileSizeLimitRefusesWithoutReading) {
  TempDir dir;
  WriteBytes(dir / "big.jpg", Encode(".jpg", TestCard(640, 480)));
  DecodeOptions options;
  options.max_file_bytes = 100;
  auto decoded = DecodeImageFile(dir / "big.jpg", options);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kImageTooLarge);
}

TEST(ImageDecodeTest, UnreadableFileIsPermissionDenied) {
  if (geteuid() == 0) {
    // Root reads files whatever their mode; drop to an unprivileged uid in a child to check the real path.
    TempDir dir;
    WriteBytes(dir / "locked.jpg", Encode(".jpg", TestCard()));
    chmod((dir / "locked.jpg").c_str(), 0);
    chmod(dir.path().c_str(), 0755);
    const pid_t pid = testing::SpawnFunction([&] {
      if (setgid(65534) != 0 || setuid(65534) != 0) return 3;
      auto decoded = DecodeImageFile(dir / "locked.jpg");
      return !decoded.ok() && decoded.status().code() == StatusCode::kPermissionDenied ? 0 : 1;
    });
    EXPECT_EQ(testing::WaitExit(pid), 0) << "an unprivileged reader did not get kPermissionDenied";
    return;
  }
  TempDir dir;
  WriteBytes(dir / "locked.jpg", Encode(".jpg", TestCard()));
  chmod((dir / "locked.jpg").c_str(), 0);
  auto decoded = DecodeImageFile(dir / "locked.jpg");
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace facefill
