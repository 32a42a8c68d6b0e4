// Library-root containment: a library file is opened beneath an allowed folder, never through a path that leads
// out of it, and read through that one descriptor (no check-then-open).
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "facefill/status.h"

namespace facefill::pipeline {

// An owned file descriptor, closed at destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  ~UniqueFd();
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

class Containment {
 public:
  // `roots` are canonicalised and opened here (a root that cannot be opened admits nothing); an empty list allows
  // everything.
  explicit Containment(const std::vector<std::string>& roots);

  // Opens `path` for reading, resolved beneath the root it names: with openat2(RESOLVE_BENEATH |
  // RESOLVE_NO_SYMLINKS) where the kernel has it, else (and for paths through symlinks) one component at a time
  // with O_NOFOLLOW from the root's descriptor. Symlinks are followed only while they stay inside a root; ".."
  // never climbs above it. kPermissionDenied for a path that leads outside or lies in no root; kNotFound,
  // kPermissionDenied or kIoError as opening reports. The caller reads through the returned descriptor only.
  Result<UniqueFd> Open(const std::filesystem::path& path) const;

 private:
  struct Root {
    std::filesystem::path path;  // canonical
    UniqueFd fd;                 // O_PATH directory
  };
  // The root `path` lies in (lexically), and the part of `path` below it; -1 when none.
  std::pair<int, std::filesystem::path> Locate(const std::filesystem::path& path) const;
  Result<UniqueFd> Walk(int root, const std::filesystem::path& relative, const std::string& name) const;
  Status CheckOpened(int fd, const std::string& name) const;

  std::vector<Root> roots_;
};

}  // namespace facefill::pipeline
