// ImageCache: decode (reduced where JPEG allows), crop or downscale, encode, and keep the result on disk.
#include "image_cache.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <optional>

#include "facefill/image.h"
#include "jpeg_top_rows.h"

namespace facefill::web {
namespace {

namespace fs = std::filesystem;

constexpr int kJpegQuality = 85;
constexpr double kCropMargin = 1.6;  // crop side / longest box side: some hair and chin around the face

std::string Fnv1a(std::string_view text) {
  uint64_t hash = 1469598103934665603ull;
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return fmt::format("{:016x}", hash);
}

std::string CropKey(const FaceView& f, int size) {
  return Fnv1a(fmt::format("crop|{}|{}|{}|{}|{}|{}|{}|{}|{}", f.id, f.asset_id, f.bbox_x, f.bbox_y, f.bbox_w, f.bbox_h,
                           f.file_size, f.file_modified_at, size));
}

std::string PhotoKey(const AssetView& a, int max_side) {
  return Fnv1a(fmt::format("photo|{}|{}|{}|{}", a.id, a.file_size, a.file_modified_at, max_side));
}

// The largest JPEG reduction (1, 2, 4, 8) that keeps `side` full-resolution pixels at least `wanted` pixels.
int ReductionFor(double side, int wanted) {
  int reduce = 1;
  while (reduce < 8 && side / (reduce * 2) >= wanted) reduce *= 2;
  return reduce;
}

Result<std::string> EncodeJpeg(const cv::Mat& bgr) {
  std::vector<uint8_t> out;
  if (!cv::imencode(".jpg", bgr, out, {cv::IMWRITE_JPEG_QUALITY, kJpegQuality})) {
    return Status::Internal("JPEG encoding failed");
  }
  return std::string(out.begin(), out.end());
}

// The crop of `face` from a photo decoded at `decoded.scale`, fitted into size x size, as JPEG.
Result<std::string> CropJpeg(const DecodedImage& decoded, const FaceView& face, int size) {
  const double side = kCropMargin * std::max(face.bbox_w, face.bbox_h);
  const double s = decoded.scale;
  const double cx = (face.bbox_x + face.bbox_w / 2.0) * s, cy = (face.bbox_y + face.bbox_h / 2.0) * s;
  const double half = side * s / 2;
  cv::Rect region(static_cast<int>(cx - half), static_cast<int>(cy - half), static_cast<int>(2 * half),
                  static_cast<int>(2 * half));
  region &= cv::Rect(0, 0, decoded.bgr.cols, decoded.bgr.rows);
  if (region.width <= 0 || region.height <= 0) {
    return Status::InvalidArgument(fmt::format("face {} lies outside its photo", face.id));
  }
  cv::Mat crop = decoded.bgr(region);
  const double fit = std::min(1.0, static_cast<double>(size) / std::max(region.width, region.height));
  if (fit >= 1.0) return EncodeJpeg(crop);
  const cv::Size out_size(std::max(1, cvRound(region.width * fit)), std::max(1, cvRound(region.height * fit)));
  cv::Mat out;
  if (fit < 0.25) {
    cv::resize(crop, out, out_size, 0, 0, cv::INTER_AREA);
  } else {
    // OpenCV's area averaging is slow at fractional ratios (about 0.5-1 ms a crop) and fast at exactly 2: bilinear to
    // twice the size, then 2x2 averaging, is within about 1 level of 255 of it at a third of the time.
    cv::Mat twice;
    cv::resize(crop, twice, out_size * 2, 0, 0, cv::INTER_LINEAR);
    cv::resize(twice, out, out_size, 0, 0, cv::INTER_AREA);
  }
  return EncodeJpeg(out);
}

}  // namespace

Result<std::unique_ptr<ImageCache>> ImageCache::Open(const fs::path& dir, int64_t max_bytes,
                                                     const std::vector<std::string>& library_roots) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError(fmt::format("cannot create the image cache {}: {}", dir.string(), ec.message()));
  // Earlier versions kept one JPEG file per image here (named by its 16-hex-digit key): they would sit outside the
  // bound, so they go.
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const bool keyed = name.size() > 16 && name.find_first_not_of("0123456789abcdef") == 16 && name[16] == '.';
    const std::string ext = e.path().extension().string();
    if (keyed && e.is_regular_file() && (ext == ".jpg" || ext == ".tmp")) fs::remove(e.path(), ec);
  }
  FACEFILL_ASSIGN_OR_RETURN(auto blobs, BlobCache::Open(dir / "images.sqlite", max_bytes));
  return std::unique_ptr<ImageCache>(new ImageCache(std::move(blobs), library_roots));
}

std::string ImageCache::CropEtag(const FaceView& face, int size) { return "\"" + CropKey(face, size) + "\""; }
std::string ImageCache::PhotoEtag(const AssetView& asset, int max_side) {
  return "\"" + PhotoKey(asset, max_side) + "\"";
}

Result<std::vector<uint8_t>> ImageCache::ReadAsset(const std::string& path) const {
  FACEFILL_ASSIGN_OR_RETURN(auto fd, containment_.Open(path));
  std::vector<uint8_t> bytes;
  FACEFILL_RETURN_IF_ERROR(ReadOpenFileBytes(fd.get(), path, DecodeOptions{}.max_file_bytes, &bytes));
  return bytes;
}

std::shared_ptr<std::mutex> ImageCache::AssetLock(int64_t asset_id) {
  std::lock_guard lock(mutex_);
  auto& weak = asset_locks_[asset_id];
  auto strong = weak.lock();
  if (!strong) {
    strong = std::make_shared<std::mutex>();
    weak = strong;
  }
  if (asset_locks_.size() > 4096) std::erase_if(asset_locks_, [](const auto& e) { return e.second.expired(); });
  return strong;
}

Result<RenderedImage> ImageCache::FaceCrop(const FaceView& face, int size, const SiblingsFn& siblings_of) {
  RenderedImage image;
  const std::string key = CropKey(face, size);
  image.etag = "\"" + key + "\"";
  if (blobs_->Get(key, &image.jpeg)) {
    image.from_cache = true;
    return image;
  }
  auto asset_lock = AssetLock(face.asset_id);
  std::lock_guard decoding(*asset_lock);
  if (blobs_->Get(key, &image.jpeg)) {  // made by the request that held the lock before us
    image.from_cache = true;
    return image;
  }
  // This face and the siblings of the same photo version that are not cached yet.
  std::vector<FaceView> siblings;
  if (siblings_of) {
    FACEFILL_ASSIGN_OR_RETURN(siblings, siblings_of());
  }
  std::vector<const FaceView*> wanted = {&face};
  for (const auto& s : siblings) {
    if (s.id == face.id || s.asset_id != face.asset_id || s.path != face.path || s.file_size != face.file_size ||
        s.file_modified_at != face.file_modified_at) {
      continue;
    }
    if (!blobs_->Contains(CropKey(s, size))) wanted.push_back(&s);
  }
  int reduce = 8;
  for (const FaceView* f : wanted) {
    reduce = std::min(reduce, ReductionFor(kCropMargin * std::max(f->bbox_w, f->bbox_h), size));
  }
  // Rows below the lowest crop are not decoded (upright JPEGs): portraits have their faces in the upper part.
  int rows_needed = 0;
  for (const FaceView* f : wanted) {
    const double half = kCropMargin * std::max(f->bbox_w, f->bbox_h) / 2;
    rows_needed = std::max(rows_needed, static_cast<int>(std::ceil(f->bbox_y + f->bbox_h / 2.0 + half)));
  }
  FACEFILL_ASSIGN_OR_RETURN(auto bytes, ReadAsset(face.path));
  DecodeOptions options;
  options.reduce = reduce;
  std::optional<DecodedImage> top = DecodeJpegTopRows(bytes, reduce, rows_needed, options);
  if (!top) {
    FACEFILL_ASSIGN_OR_RETURN(top, DecodeImage(bytes, face.path, options));
  }
  const DecodedImage& decoded = *top;
  // A crowd photo has hundreds of faces, all made by this one request: on every core.
  std::vector<std::string> jpegs(wanted.size());
  std::vector<Status> failed(wanted.size(), Status::Ok());
  cv::parallel_for_(cv::Range(0, static_cast<int>(wanted.size())), [&](const cv::Range& range) {
    for (int i = range.start; i < range.end; ++i) {
      auto jpeg = CropJpeg(decoded, *wanted[i], size);
      if (jpeg.ok()) {
        jpegs[i] = std::move(jpeg).value();
      } else {
        failed[i] = jpeg.status();
      }
    }
  });
  if (!failed[0].ok()) return failed[0];
  std::vector<std::pair<std::string, std::string>> made;
  for (size_t i = 1; i < wanted.size(); ++i) {
    if (failed[i].ok()) made.emplace_back(CropKey(*wanted[i], size), std::move(jpegs[i]));
  }
  made.emplace_back(key, jpegs[0]);
  blobs_->Put(made);
  image.jpeg = std::move(jpegs[0]);
  return image;
}

Result<RenderedImage> ImageCache::Photo(const AssetView& asset, int max_side) {
  RenderedImage image;
  const std::string key = PhotoKey(asset, max_side);
  image.etag = "\"" + key + "\"";
  if (blobs_->Get(key, &image.jpeg)) {
    image.from_cache = true;
    return image;
  }
  FACEFILL_ASSIGN_OR_RETURN(auto bytes, ReadAsset(asset.path));
  DecodeOptions options;
  options.reduce = ReductionFor(std::max(asset.width, asset.height), max_side);
  FACEFILL_ASSIGN_OR_RETURN(auto decoded, DecodeImage(bytes, asset.path, options));
  const double fit = std::min(1.0, static_cast<double>(max_side) / std::max(decoded.bgr.cols, decoded.bgr.rows));
  cv::Mat out;
  if (fit < 1.0) {
    cv::resize(decoded.bgr, out, cv::Size(), fit, fit, cv::INTER_AREA);
  } else {
    out = decoded.bgr;
  }
  FACEFILL_ASSIGN_OR_RETURN(image.jpeg, EncodeJpeg(out));
  blobs_->Put({{key, image.jpeg}});
  return image;
}

}  // namespace facefill::web
