// Synthetic photo libraries for benchmarks: phone-like JPEGs composed deterministically from real face photos.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "facefill/status.h"

namespace facefill {

struct CorpusOptions {
  int count = 100;
  int width = 4032;  // 12 MP phone photo (4032 x 3024); the "3mp" profile is 2000 x 1500
  int height = 3024;
  int jpeg_quality = 90;
  uint64_t seed = 1;
  double no_face_fraction = 0.1;  // images composed only from photos without faces
  int max_photos_per_image = 3;   // source photos pasted into one image (each may hold several faces)

  // "12mp" or "3mp".
  static Result<CorpusOptions> ForProfile(const std::string& profile);
  Status Validate() const;
};

struct CorpusReport {
  int written = 0;
  int skipped_existing = 0;  // already there from an earlier run with the same options
  int64_t bytes = 0;
};

// Writes `count` images named corpus_<seed>_<index>.jpg into `out_dir`, composed from the photos under
// `source_dirs` (faces) and `no_face_dirs` (backgrounds). The same options give the same files.
Result<CorpusReport> GenerateCorpus(const std::vector<std::filesystem::path>& face_sources,
                                    const std::vector<std::filesystem::path>& background_sources,
                                    const std::filesystem::path& out_dir, const CorpusOptions& options);

}  // namespace facefill
