// Real-path containment check for library files.
#include "containment.h"

#include <algorithm>

namespace facefill::pipeline {

namespace fs = std::filesystem;

Containment::Containment(const std::vector<std::string>& roots) {
  for (const auto& root : roots) {
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(root, ec);
    roots_.push_back(ec ? fs::path(root).lexically_normal() : canonical);
  }
}

Status Containment::Check(const fs::path& path) const {
  if (roots_.empty()) return Status::Ok();
  std::error_code ec;
  const fs::path real = fs::weakly_canonical(path, ec);
  if (ec) return Status::Ok();  // cannot resolve: the read itself will report why
  for (const auto& root : roots_) {
    auto [root_end, unused] = std::mismatch(root.begin(), root.end(), real.begin(), real.end());
    if (root_end == root.end()) return Status::Ok();
  }
  return Status(StatusCode::kPermissionDenied,
                path.string() + ": resolves to " + real.string() + ", outside the library roots; not read");
}

}  // namespace facefill::pipeline
