// The web page's image cache: a crop made from a DCT-reduced decode shows the same face as one cut from the full
// photo (EXIF rotation included), the crops of a photo come from one decode, and the store keeps to its bound.
#include <gtest/gtest.h>

#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "../src/image/exif_orientation.h"
#include "facefill/image.h"
#include "test_support.h"
#include "web/blob_cache.h"
#include "web/image_cache.h"
#include "web/jpeg_top_rows.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;
using web::FaceView;

// The crop as it was made before reduced decoding: cut from the full-resolution upright photo, the box's longest
// side times 1.6 around its centre, fitted into `out_size` with area averaging.
cv::Mat FullDecodeCrop(const cv::Mat& full, const FaceView& f, cv::Size out_size) {
  const double side = 1.6 * std::max(f.bbox_w, f.bbox_h);
  const double cx = f.bbox_x + f.bbox_w / 2.0, cy = f.bbox_y + f.bbox_h / 2.0;
  cv::Rect region(static_cast<int>(cx - side / 2), static_cast<int>(cy - side / 2), static_cast<int>(side),
                  static_cast<int>(side));
  region &= cv::Rect(0, 0, full.cols, full.rows);
  cv::Mat out;
  cv::resize(full(region), out, out_size, 0, 0, cv::INTER_AREA);
  return out;
}

double MeanAbsoluteDifference(const cv::Mat& a, const cv::Mat& b) {
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  const cv::Scalar mean = cv::mean(diff);
  return (mean[0] + mean[1] + mean[2]) / 3;
}

class WebImageCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    shared_ = testing::SharedDir();
    FACEFILL_REQUIRE_PATH(shared_ / "images", "../shared/images");
    analyzer_ = testing::OpenDefaultAnalyzer();
    ASSERT_NE(analyzer_, nullptr);
  }

  // Every face the detector finds in `relative`, as the catalog would hold it.
  std::vector<FaceView> FacesOf(const std::string& relative, cv::Mat* full) {
    const fs::path path = shared_ / "images" / relative;
    auto decoded = DecodeImageFile(path);  // full resolution, upright
    EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
    if (!decoded.ok()) return {};
    *full = decoded->bgr;
    auto found = analyzer_->Detect(decoded->bgr);
    EXPECT_TRUE(found.ok()) << found.status().ToString();
    std::vector<FaceView> faces;
    for (size_t i = 0; found.ok() && i < found->size(); ++i) {
      const BoxF& box = (*found)[i].box;
      FaceView f;
      f.id = relative + "#" + std::to_string(i);
      f.asset_id = 1;
      f.bbox_x = static_cast<int>(box.x1);
      f.bbox_y = static_cast<int>(box.y1);
      f.bbox_w = static_cast<int>(box.width());
      f.bbox_h = static_cast<int>(box.height());
      f.path = path.string();
      f.file_size = static_cast<int64_t>(fs::file_size(path));
      f.file_modified_at = "2026-01-01T00:00:00Z";
      faces.push_back(f);
    }
    return faces;
  }

  fs::path shared_;
  std::unique_ptr<FaceAnalyzer> analyzer_;
  testing::TempDir dir_;
};

TEST_F(WebImageCacheTest, ReducedDecodeCropShowsTheSameFaceAsAFullDecodeCrop) {
  auto cache = web::ImageCache::Open(dir_ / "cache", int64_t{64} << 20, {(shared_ / "images").string()});
  ASSERT_TRUE(cache.ok()) << cache.status().ToString();
  constexpr int kSize = 160;
  struct Case {
    std::string photo;
    int orientation;  // EXIF orientation the file carries
  };
  // Large faces (decoded at 1/2 to 1/8), one of them in a photo stored sideways with EXIF orientation 6.
  for (const Case& c : {Case{"rotated/image_T1_exif6.jpeg", 6}, Case{"biden/biden2.jpg", 1},
                        Case{"celeb/rdj_d1.jpeg", 1}, Case{"obama/obama3.jpg", 1}}) {
    SCOPED_TRACE(c.photo);
    const auto bytes = testing::ReadBytes(shared_ / "images" / c.photo);
    ASSERT_EQ(image_internal::ReadJpegExifOrientation(bytes), c.orientation);
    cv::Mat full;
    auto faces = FacesOf(c.photo, &full);
    ASSERT_FALSE(faces.empty());
    const FaceView& face = faces[0];
    // Big enough that the crop's region is at least twice the crop: the reduced path is the one taken.
    ASSERT_GE(1.6 * std::max(face.bbox_w, face.bbox_h), 2 * kSize) << face.bbox_w << "x" << face.bbox_h;
    auto made = (*cache)->FaceCrop(face, kSize);
    ASSERT_TRUE(made.ok()) << made.status().ToString();
    EXPECT_FALSE(made->from_cache);
    cv::Mat crop = cv::imdecode(std::vector<uint8_t>(made->jpeg.begin(), made->jpeg.end()), cv::IMREAD_COLOR);
    ASSERT_FALSE(crop.empty());
    EXPECT_EQ(std::max(crop.cols, crop.rows), kSize);
    const cv::Mat reference = FullDecodeCrop(full, face, crop.size());
    const double same = MeanAbsoluteDifference(crop, reference);
    // JPEG encoding alone accounts for about 3 levels of 255 here; a different face or the wrong way up, for 45-65.
    EXPECT_LT(same, 8.0) << "the reduced-decode crop differs from the full-decode crop of " << c.photo;
    // The check can fail: the same box cut from the photo as stored (not turned upright), or a box moved by half
    // its width, is far from it.
    DecodeOptions stored;
    stored.apply_orientation = false;
    auto unrotated = DecodeImageFile(shared_ / "images" / c.photo, stored);
    ASSERT_TRUE(unrotated.ok());
    FaceView moved = face;
    moved.bbox_x += face.bbox_w / 2;
    const cv::Mat other = c.orientation != 1 ? FullDecodeCrop(unrotated->bgr, face, crop.size())
                                             : FullDecodeCrop(full, moved, crop.size());
    const double different = MeanAbsoluteDifference(crop, other);
    EXPECT_GT(different, std::max(30.0, 4 * same))
        << "the check cannot tell faces apart (" << same << " vs " << different << ")";
    // A second request is served from the store, byte for byte.
    auto again = (*cache)->FaceCrop(face, kSize);
    ASSERT_TRUE(again.ok());
    EXPECT_TRUE(again->from_cache);
    EXPECT_EQ(again->jpeg, made->jpeg);
    EXPECT_EQ(again->etag, made->etag);
  }
}

TEST_F(WebImageCacheTest, TheFacesOfAPhotoAreCroppedFromOneDecode) {
  auto cache = web::ImageCache::Open(dir_ / "cache", int64_t{64} << 20, {(shared_ / "images").string()});
  ASSERT_TRUE(cache.ok()) << cache.status().ToString();
  cv::Mat full;
  auto faces = FacesOf("group/hpc203_selfie_crowd.jpg", &full);
  ASSERT_GE(faces.size(), 50u);
  int calls = 0;
  auto first = (*cache)->FaceCrop(faces[0], 160, [&] {
    ++calls;
    return Result<std::vector<FaceView>>(faces);
  });
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ((*cache)->images(), static_cast<int64_t>(faces.size())) << "every face of the photo is cropped at once";
  for (size_t i = 1; i < faces.size(); ++i) {
    auto crop = (*cache)->FaceCrop(faces[i], 160, [&] {
      ++calls;
      return Result<std::vector<FaceView>>(faces);
    });
    ASSERT_TRUE(crop.ok());
    EXPECT_TRUE(crop->from_cache) << "face " << i;
    // Each crop is its own face: the one made in parallel matches one cut from the full photo.
    if (i % 10 == 0) {
      cv::Mat image = cv::imdecode(std::vector<uint8_t>(crop->jpeg.begin(), crop->jpeg.end()), cv::IMREAD_COLOR);
      ASSERT_FALSE(image.empty());
      EXPECT_LT(MeanAbsoluteDifference(image, FullDecodeCrop(full, faces[i], image.size())), 6.0) << "face " << i;
    }
  }
  EXPECT_EQ(calls, 1) << "the photo was decoded again for a sibling";
}

TEST(WebJpegTopRowsTest, TheRowsDecodedAreDecodeImagesPixelForPixelAndOnlyUprightJpegsTakeTheShortcut) {
  const fs::path images = testing::SharedDir() / "images";
  FACEFILL_REQUIRE_PATH(images, "../shared/images");
  const auto bytes = testing::ReadBytes(images / "obama/obama3.jpg");
  for (int reduce : {1, 2, 4, 8}) {
    SCOPED_TRACE(reduce);
    DecodeOptions options;
    options.reduce = reduce;
    auto full = DecodeImage(bytes, "obama3", options);
    ASSERT_TRUE(full.ok());
    auto top = web::DecodeJpegTopRows(bytes, reduce, full->height / 2, options);
    ASSERT_TRUE(top.has_value());
    EXPECT_EQ(top->width, full->width);
    EXPECT_EQ(top->height, full->height);
    EXPECT_DOUBLE_EQ(top->scale, full->scale);
    EXPECT_EQ(top->bgr.cols, full->bgr.cols);
    EXPECT_GE(top->bgr.rows, full->bgr.rows / 2);
    EXPECT_LT(top->bgr.rows, full->bgr.rows * 3 / 5) << "the rows below were decoded too";
    EXPECT_EQ(cv::norm(top->bgr, full->bgr.rowRange(0, top->bgr.rows), cv::NORM_INF), 0.0);
    auto all = web::DecodeJpegTopRows(bytes, reduce, full->height * 2, options);
    ASSERT_TRUE(all.has_value());
    EXPECT_EQ(cv::norm(all->bgr, full->bgr, cv::NORM_INF), 0.0);
  }
  // Stored sideways (EXIF 6), not a JPEG, truncated: decoded in full by the caller instead.
  EXPECT_FALSE(web::DecodeJpegTopRows(testing::ReadBytes(images / "rotated/image_T1_exif6.jpeg"), 1, 100));
  EXPECT_FALSE(web::DecodeJpegTopRows(testing::ReadBytes(images / "celeb/yifei_open_eyes.png"), 1, 100));
  std::vector<uint8_t> truncated(bytes.begin(), bytes.begin() + bytes.size() / 3);
  EXPECT_FALSE(web::DecodeJpegTopRows(truncated, 1, 100000));
}

TEST(WebBlobCacheTest, KeepsToItsBoundLeastRecentlyUsedFirstAndAcrossReopening) {
  testing::TempDir dir;
  const fs::path file = dir / "images.sqlite";
  constexpr int64_t kBound = 512 * 1024;
  std::string blob(20'000, 'x');
  {
    auto cache = web::BlobCache::Open(file, kBound);
    ASSERT_TRUE(cache.ok()) << cache.status().ToString();
    (*cache)->Put({{"kept", blob}});
    for (int i = 0; i < 100; ++i) {
      std::string read;
      ASSERT_TRUE((*cache)->Get("kept", &read)) << "the most recently used entry was evicted at " << i;
      EXPECT_EQ(read, blob);
      (*cache)->Put({{"k" + std::to_string(i), blob}});
      EXPECT_LE((*cache)->file_bytes(), kBound);
      EXPECT_LE(static_cast<int64_t>(fs::file_size(file)), kBound);
    }
    EXPECT_FALSE((*cache)->Contains("k0")) << "the least recently used entry stayed";
    EXPECT_GE((*cache)->entries(), 15);
  }
  auto reopened = web::BlobCache::Open(file, kBound);
  ASSERT_TRUE(reopened.ok());
  std::string read;
  EXPECT_TRUE((*reopened)->Get("kept", &read));
  EXPECT_TRUE((*reopened)->Get("k99", &read));
  // Two processes share the file: rows the other one stored count towards the bound and go in their turn.
  auto other = web::BlobCache::Open(file, kBound);
  ASSERT_TRUE(other.ok());
  (*other)->Put({{"theirs", blob}});
  for (int i = 0; i < 40; ++i) {
    (*reopened)->Put({{"again" + std::to_string(i), blob}});
    EXPECT_LE(static_cast<int64_t>(fs::file_size(file)), kBound);
  }
  EXPECT_FALSE((*other)->Get("theirs", &read)) << "the other process's old row was never evicted";
  other->reset();
  // A file that is not a cache is replaced, not fatal.
  reopened->reset();
  testing::WriteBytes(file, std::vector<uint8_t>(5000, 7));
  auto replaced = web::BlobCache::Open(file, kBound);
  ASSERT_TRUE(replaced.ok()) << replaced.status().ToString();
  EXPECT_EQ((*replaced)->entries(), 0);
}

}  // namespace
}  // namespace facefill
