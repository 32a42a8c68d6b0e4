// ImageCache: decode (reduced where JPEG allows), crop or downscale, encode, and keep the result on disk.
#include "image_cache.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <thread>

#include "facefill/image.h"

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

}  // namespace

Result<std::unique_ptr<ImageCache>> ImageCache::Open(const fs::path& dir, int64_t max_bytes,
                                                     const std::vector<std::string>& library_roots) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IoError(fmt::format("cannot create the image cache {}: {}", dir.string(), ec.message()));
  std::unique_ptr<ImageCache> cache(new ImageCache(dir, max_bytes, library_roots));
  // Files left by an earlier run count towards the bound, oldest first.
  std::vector<std::pair<fs::file_time_type, fs::path>> found;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (e.is_regular_file() && e.path().extension() == ".jpg") found.emplace_back(e.last_write_time(), e.path());
  }
  std::sort(found.begin(), found.end());
  for (const auto& [time, path] : found) {
    const auto size = static_cast<int64_t>(fs::file_size(path, ec));
    if (ec) continue;
    cache->entries_[path.stem().string()] = {size, ++cache->clock_};
    cache->total_bytes_ += size;
  }
  return cache;
}

std::string ImageCache::CropEtag(const FaceView& face, int size) { return "\"" + CropKey(face, size) + "\""; }
std::string ImageCache::PhotoEtag(const AssetView& asset, int max_side) {
  return "\"" + PhotoKey(asset, max_side) + "\"";
}

int64_t ImageCache::bytes() const {
  std::lock_guard lock(mutex_);
  return total_bytes_;
}

int64_t ImageCache::files() const {
  std::lock_guard lock(mutex_);
  return static_cast<int64_t>(entries_.size());
}

bool ImageCache::Lookup(const std::string& key, std::string* jpeg) {
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    it->second.last_use = ++clock_;
  }
  std::ifstream in(dir_ / (key + ".jpg"), std::ios::binary);
  if (!in) return false;  // evicted meanwhile
  std::ostringstream all;
  all << in.rdbuf();
  *jpeg = std::move(all).str();
  return !jpeg->empty();
}

void ImageCache::Store(const std::string& key, const std::string& jpeg) {
  // Written under a temporary name, then renamed: a reader sees the whole file or none.
  const fs::path tmp =
      dir_ / fmt::format("{}.{}.{}.tmp", key, getpid(), std::hash<std::thread::id>()(std::this_thread::get_id()));
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(jpeg.data(), static_cast<std::streamsize>(jpeg.size()));
    if (!out.good()) {
      std::error_code ignored;
      fs::remove(tmp, ignored);
      std::lock_guard lock(mutex_);
      if (!warned_) spdlog::warn("cannot write the image cache in {}: images are made anew each time", dir_.string());
      warned_ = true;
      return;
    }
  }
  std::error_code ec;
  fs::rename(tmp, dir_ / (key + ".jpg"), ec);
  if (ec) return;
  std::vector<std::string> evict;
  {
    std::lock_guard lock(mutex_);
    auto [it, added] = entries_.try_emplace(key);
    if (!added) total_bytes_ -= it->second.size;
    it->second = {static_cast<int64_t>(jpeg.size()), ++clock_};
    total_bytes_ += it->second.size;
    if (total_bytes_ <= max_bytes_) return;
    // Down to 90% of the bound, least recently used first, so eviction does not run on every store.
    std::vector<std::pair<uint64_t, std::string>> by_use;
    for (const auto& [k, e] : entries_) by_use.emplace_back(e.last_use, k);
    std::sort(by_use.begin(), by_use.end());
    for (const auto& [use, k] : by_use) {
      if (total_bytes_ <= max_bytes_ * 9 / 10) break;
      total_bytes_ -= entries_[k].size;
      entries_.erase(k);
      evict.push_back(k);
    }
  }
  for (const auto& k : evict) fs::remove(dir_ / (k + ".jpg"), ec);
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
  if (Lookup(key, &image.jpeg)) {
    image.from_cache = true;
    return image;
  }
  auto asset_lock = AssetLock(face.asset_id);
  std::lock_guard decoding(*asset_lock);
  if (Lookup(key, &image.jpeg)) {  // made by the request that held the lock before us
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
    std::lock_guard lock(mutex_);
    if (!entries_.count(CropKey(s, size))) wanted.push_back(&s);
  }
  int reduce = 8;
  for (const FaceView* f : wanted) {
    reduce = std::min(reduce, ReductionFor(kCropMargin * std::max(f->bbox_w, f->bbox_h), size));
  }
  FACEFILL_ASSIGN_OR_RETURN(auto bytes, ReadAsset(face.path));
  DecodeOptions options;
  options.reduce = reduce;
  FACEFILL_ASSIGN_OR_RETURN(auto decoded, DecodeImage(bytes, face.path, options));
  for (const FaceView* f : wanted) {
    const double side = kCropMargin * std::max(f->bbox_w, f->bbox_h);
    const double s = decoded.scale;
    const double cx = (f->bbox_x + f->bbox_w / 2.0) * s, cy = (f->bbox_y + f->bbox_h / 2.0) * s;
    const double half = side * s / 2;
    cv::Rect region(static_cast<int>(cx - half), static_cast<int>(cy - half), static_cast<int>(2 * half),
                    static_cast<int>(2 * half));
    region &= cv::Rect(0, 0, decoded.bgr.cols, decoded.bgr.rows);
    if (region.width <= 0 || region.height <= 0) {
      if (f == &face) return Status::InvalidArgument(fmt::format("face {} lies outside its photo", face.id));
      continue;
    }
    cv::Mat crop = decoded.bgr(region);
    const double fit = std::min(1.0, static_cast<double>(size) / std::max(region.width, region.height));
    cv::Mat out;
    if (fit < 1.0) {
      cv::resize(crop, out, cv::Size(), fit, fit, cv::INTER_AREA);
    } else {
      out = crop;
    }
    FACEFILL_ASSIGN_OR_RETURN(std::string jpeg, EncodeJpeg(out));
    Store(CropKey(*f, size), jpeg);
    if (f == &face) image.jpeg = std::move(jpeg);
  }
  return image;
}

Result<RenderedImage> ImageCache::Photo(const AssetView& asset, int max_side) {
  RenderedImage image;
  const std::string key = PhotoKey(asset, max_side);
  image.etag = "\"" + key + "\"";
  if (Lookup(key, &image.jpeg)) {
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
  Store(key, image.jpeg);
  return image;
}

}  // namespace facefill::web
