// Library walk: extension filter, header probe for mime type and size, batched catalog upserts.
#include "facefill/library_scan.h"

#include <algorithm>
#include <chrono>

#include "facefill/image.h"

namespace facefill {

namespace fs = std::filesystem;

Result<LibraryScanReport> ScanLibrary(const fs::path& root, Catalog* catalog, const LibraryScanOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(root, ec)) {
    return Status(StatusCode::kNotFound, root.string() + ": not a directory");
  }
  const fs::path base = fs::absolute(root, ec).lexically_normal();
  // The backfill reads only files that resolve inside a scanned root (symlinks out of it are refused there).
  FACEFILL_RETURN_IF_ERROR(catalog->AddLibraryRoot(fs::canonical(base, ec).string()));
  LibraryScanReport report;
  std::vector<AssetRecord> batch;
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::Ok();
    FACEFILL_RETURN_IF_ERROR(catalog->UpsertAssets(batch, &report.counts));
    batch.clear();
    return Status::Ok();
  };
  fs::recursive_directory_iterator it(base, fs::directory_options::skip_permission_denied, ec);
  if (ec) return Status(StatusCode::kPermissionDenied, base.string() + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) {
      ++report.unreadable_dirs;
      ec.clear();
      continue;
    }
    const auto& entry = *it;
    std::error_code entry_ec;
    if (!entry.is_regular_file(entry_ec)) continue;
    ++report.files_seen;
    std::string ext = entry.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (std::find(options.extensions.begin(), options.extensions.end(), ext) == options.extensions.end()) {
      ++report.ignored;
      continue;
    }
    ++report.images;
    AssetRecord asset;
    asset.path = entry.path().lexically_normal().string();
    asset.file_size = static_cast<int64_t>(entry.file_size(entry_ec));
    auto mtime = entry.last_write_time(entry_ec);
    asset.file_modified_at =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::file_clock::to_sys(mtime).time_since_epoch())
            .count();
    // The header gives mime type and size cheaply; a broken file is still catalogued (backfill records why).
    if (auto header = ProbeImageFile(entry.path()); header.ok()) {
      asset.mime_type = ImageFormatMimeType(header->format);
      asset.width = header->width;
      asset.height = header->height;
    }
    batch.push_back(std::move(asset));
    if (static_cast<int>(batch.size()) >= options.batch) FACEFILL_RETURN_IF_ERROR(flush());
  }
  FACEFILL_RETURN_IF_ERROR(flush());
  return report;
}

}  // namespace facefill
