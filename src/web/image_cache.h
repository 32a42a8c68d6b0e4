// Face crops and downscaled photos made on demand from the catalog's assets (EXIF orientation applied), kept as
// JPEG rows of a BlobCache in a folder beside the catalog with a size bound (least recently used go first).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../pipeline/containment.h"
#include "blob_cache.h"
#include "catalog_view.h"
#include "facefill/status.h"

namespace facefill::web {

struct RenderedImage {
  std::string jpeg;
  std::string etag;  // quoted, as the ETag header wants it
  bool from_cache = false;
};

// Thread-safe.
class ImageCache {
 public:
  // Files are read only beneath `library_roots` (the folders `scan` walked), through one descriptor each, never
  // through a symlink that leads out of them.
  static Result<std::unique_ptr<ImageCache>> Open(const std::filesystem::path& dir, int64_t max_bytes,
                                                  const std::vector<std::string>& library_roots);

  // The ETag a face crop or photo would have, without rendering it (for If-None-Match).
  static std::string CropEtag(const FaceView& face, int size);
  static std::string PhotoEtag(const AssetView& asset, int max_side);

  // A square-ish crop around the face (its box and a margin), at most size x size pixels. On a miss the photo is
  // decoded once for the crops of all `siblings` (the faces of the same photo, `face` among them or not) that are
  // not cached yet, so a page of many faces costs one decode per photo, not one per face. The JPEG is decoded at the
  // largest DCT reduction that still gives every one of those crops its full size, and the crops are made on all
  // cores.
  // `siblings` is called only on a miss.
  using SiblingsFn = std::function<Result<std::vector<FaceView>>()>;
  Result<RenderedImage> FaceCrop(const FaceView& face, int size, const SiblingsFn& siblings = nullptr);
  // The photo, upright, its longest side at most max_side pixels.
  Result<RenderedImage> Photo(const AssetView& asset, int max_side);

  int64_t bytes() const { return blobs_->file_bytes(); }
  int64_t images() const { return blobs_->entries(); }

 private:
  ImageCache(std::unique_ptr<BlobCache> blobs, const std::vector<std::string>& roots)
      : blobs_(std::move(blobs)), containment_(roots) {}
  Result<std::vector<uint8_t>> ReadAsset(const std::string& path) const;
  // Held while one photo is decoded for its crops, so concurrent requests for its faces wait for that decode.
  std::shared_ptr<std::mutex> AssetLock(int64_t asset_id);

  const std::unique_ptr<BlobCache> blobs_;
  const pipeline::Containment containment_;
  std::mutex mutex_;
  std::map<int64_t, std::weak_ptr<std::mutex>> asset_locks_;  // guarded by mutex_
};

}  // namespace facefill::web
