// Library-root containment: a file is read only if its real path lies inside an allowed folder.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "facefill/status.h"

namespace facefill::pipeline {

class Containment {
 public:
  // `roots` are canonicalised here; an empty list allows everything.
  explicit Containment(const std::vector<std::string>& roots);

  // OK, or kPermissionDenied naming where the path really leads.
  Status Check(const std::filesystem::path& path) const;

 private:
  std::vector<std::filesystem::path> roots_;
};

}  // namespace facefill::pipeline
