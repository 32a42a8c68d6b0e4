// `scan`: walk an image library and add or refresh its files in the catalog.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "facefill/catalog.h"
#include "facefill/status.h"

namespace facefill {

struct LibraryScanOptions {
  // File extensions (lower case, with the dot) treated as images; content decides the format later.
  std::vector<std::string> extensions = {".jpg",  ".jpeg", ".jpe",  ".png",  ".webp", ".tif",
                                         ".tiff", ".bmp",  ".heic", ".heif", ".avif"};
  // Files per catalog transaction.
  int batch = 500;
};

struct LibraryScanReport {
  int64_t files_seen = 0;
  int64_t images = 0;
  int64_t ignored = 0;          // not an image extension
  int64_t unreadable_dirs = 0;  // folders that could not be listed
  ScanCounts counts;
};

// Walks `root` recursively (not following directory symlinks). Safe to run repeatedly: new files are added,
// changed ones (size or modification time) refreshed and queued for rescanning, unchanged ones left alone.
Result<LibraryScanReport> ScanLibrary(const std::filesystem::path& root, Catalog* catalog,
                                      const LibraryScanOptions& options = {});

}  // namespace facefill
