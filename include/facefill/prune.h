// `scan --prune`: remove from the catalog the assets whose files are gone, with their faces and vectors.
#pragma once

#include <filesystem>

#include "facefill/catalog.h"
#include "facefill/vector_store.h"

namespace facefill {

struct PruneReport {
  int64_t checked = 0;         // assets under the folder
  int64_t removed_assets = 0;  // their file no longer exists
  int64_t removed_faces = 0;
};

// Removes the assets under `root` whose file does not exist (ENOENT; a file that exists but cannot be read is
// kept), then their vectors. Embedded catalogs only: others refuse with kInvalidArgument (on the service's
// database, deleting image_assets rows is the service's business). `root` must be an existing folder.
Result<PruneReport> PruneMissing(const std::filesystem::path& root, Catalog& catalog, VectorStore& vectors);

}  // namespace facefill
