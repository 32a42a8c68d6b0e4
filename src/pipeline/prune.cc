// PruneMissing: assets whose files are gone leave the catalog, their faces and vectors with them.
#include "facefill/prune.h"

#include <sys/stat.h>

#include <cerrno>

namespace facefill {

namespace fs = std::filesystem;

Result<PruneReport> PruneMissing(const fs::path& root, Catalog& catalog, VectorStore& vectors) {
  std::error_code ec;
  const fs::path base = fs::canonical(root, ec);
  if (ec || !fs::is_directory(base, ec)) {
    // An unmounted or mistyped folder must not empty the catalog.
    return Status(StatusCode::kNotFound, root.string() + ": not a folder; nothing pruned");
  }
  auto assets = catalog.AssetsUnder(base.string());
  if (!assets.ok()) return assets.status();
  PruneReport report;
  report.checked = static_cast<int64_t>(assets->size());
  std::vector<int64_t> gone;
  for (const auto& a : *assets) {
    struct stat st;
    if (::lstat(a.path.c_str(), &st) != 0 && errno == ENOENT) gone.push_back(a.id);
  }
  if (gone.empty()) return report;
  // Catalog first: a crash before the vectors go leaves orphan vectors, which `check --fix` removes.
  auto faces = catalog.RemoveAssets(gone);
  if (!faces.ok()) return faces.status();
  FACEFILL_RETURN_IF_ERROR(vectors.Delete(*faces));
  report.removed_assets = static_cast<int64_t>(gone.size());
  report.removed_faces = static_cast<int64_t>(faces->size());
  return report;
}

}  // namespace facefill
