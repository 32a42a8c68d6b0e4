// Open-then-check containment for library files: openat2 beneath the root's descriptor, else a component-by-
// component walk with O_NOFOLLOW that follows only symlinks staying inside a root.
#include "containment.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <string_view>

#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

namespace facefill::pipeline {

namespace fs = std::filesystem;

namespace {

constexpr int kReadFlags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;  // O_NONBLOCK: a FIFO must not hang us
constexpr int kMaxSymlinks = 40;                                          // as the kernel's own limit

Status Refused(const std::string& name, const std::string& why) {
  return Status(StatusCode::kPermissionDenied, name + ": " + why + ", outside the library roots; not read");
}

// The typed error every reader of library files reports for a failed open.
Status OpenError(const std::string& name, int err) {
  if (err == ENOENT || err == ENOTDIR) return Status(StatusCode::kNotFound, name + ": file does not exist");
  if (err == EACCES || err == EPERM) return Status(StatusCode::kPermissionDenied, name + ": permission denied");
  return Status(StatusCode::kIoError, name + ": " + std::strerror(err));
}

// True when `path` is `root` or lies below it, comparing whole components.
bool Inside(const fs::path& root, const fs::path& path) {
  auto [root_end, unused] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
  return root_end == root.end();
}

// The target of the symlink `name` in directory `dir`; empty when it is not one (any more).
std::string ReadLink(int dir, const char* name) {
  std::string target(4096, '\0');
  ssize_t n = readlinkat(dir, name, target.data(), target.size());
  if (n < 0 || static_cast<size_t>(n) >= target.size()) return {};
  target.resize(static_cast<size_t>(n));
  return target;
}

int OpenBeneath(int root, const fs::path& relative) {
#ifdef SYS_openat2
  open_how how{};
  how.flags = static_cast<uint64_t>(kReadFlags);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  return static_cast<int>(syscall(SYS_openat2, root, relative.c_str(), &how, sizeof(how)));
#else
  (void)root, (void)relative;
  errno = ENOSYS;
  return -1;
#endif
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (fd_ >= 0) close(fd_);
}

Containment::Containment(const std::vector<std::string>& roots) {
  for (const auto& root : roots) {
    std::error_code ec;
    fs::path canonical = fs::weakly_canonical(root, ec);
    Root r{ec ? fs::path(root).lexically_normal() : canonical, {}};
    r.fd = UniqueFd(open(r.path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    roots_.push_back(std::move(r));
  }
}

std::pair<int, fs::path> Containment::Locate(const fs::path& path) const {
  for (size_t i = 0; i < roots_.size(); ++i) {
    if (Inside(roots_[i].path, path)) return {static_cast<int>(i), path.lexically_relative(roots_[i].path)};
  }
  return {-1, {}};
}

Result<UniqueFd> Containment::Open(const fs::path& path) const {
  const std::string name = path.string();
  if (roots_.empty()) {
    UniqueFd fd(open(path.c_str(), kReadFlags));
    if (!fd.valid()) return OpenError(name, errno);
    return fd;
  }
  // Which root: the path as written, else with its folder resolved (the library reached through a symlinked
  // prefix). Either way the open below starts at that root's descriptor and cannot leave it.
  auto [root, relative] = Locate(path.lexically_normal());
  if (root < 0) {
    std::error_code ec;
    const fs::path folder = fs::weakly_canonical(path.parent_path(), ec);
    if (!ec) std::tie(root, relative) = Locate(folder / path.filename());
  }
  if (root < 0) return Refused(name, "not inside a library root");
  if (!roots_[root].fd.valid()) return Refused(name, "its library root " + roots_[root].path.string() + " is gone");
  // The fast path: no symlink on the way, resolved by the kernel beneath the root. Anything else (a symlink, an
  // old kernel, a missing file) goes through the walk, which follows in-root symlinks and names the error.
  UniqueFd fd(OpenBeneath(roots_[root].fd.get(), relative.empty() ? fs::path(".") : relative));
  if (!fd.valid()) {
    auto walked = Walk(root, relative, name);
    if (!walked.ok()) return walked.status();
    fd = std::move(walked).value();
  }
  FACEFILL_RETURN_IF_ERROR(CheckOpened(fd.get(), name));
  return fd;
}

Result<UniqueFd> Containment::Walk(int root, const fs::path& relative, const std::string& name) const {
  std::vector<UniqueFd> dirs;  // the folders walked through, from the root; ".." pops one
  dirs.emplace_back(fcntl(roots_[root].fd.get(), F_DUPFD_CLOEXEC, 0));
  if (!dirs.back().valid()) return OpenError(name, errno);
  std::deque<std::string> pending;
  for (const auto& part : relative) pending.push_back(part.string());
  int symlinks = 0;
  while (!pending.empty()) {
    const std::string part = pending.front();
    pending.pop_front();
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (dirs.size() == 1) return Refused(name, "'..' climbs above its library root");
      dirs.pop_back();
      continue;
    }
    const int dir = dirs.back().get();
    const bool last = pending.empty();
    // The last component is opened for reading (never through a symlink); folders on the way as O_PATH.
    UniqueFd fd(openat(dir, part.c_str(), last ? kReadFlags | O_NOFOLLOW : O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid() && errno != ELOOP) return OpenError(name, errno);
    struct stat st {};
    if (fd.valid() && fstat(fd.get(), &st) != 0) return OpenError(name, errno);
    if (fd.valid() && !S_ISLNK(st.st_mode)) {
      if (last) return fd;
      if (!S_ISDIR(st.st_mode)) return OpenError(name, ENOTDIR);
      dirs.push_back(std::move(fd));
      continue;
    }
    // A symlink: follow it only while it stays inside a root.
    if (++symlinks > kMaxSymlinks) return Refused(name, "too many symlinks");
    const std::string target = ReadLink(dir, part.c_str());
    if (target.empty()) return Refused(name, "a symlink on its path changed while it was opened");
    std::deque<std::string> rest;
    if (target.front() == '/') {
      auto [to_root, below] = Locate(fs::path(target).lexically_normal());
      if (to_root < 0 || !roots_[to_root].fd.valid()) return Refused(name, "a symlink leads to " + target);
      dirs.clear();
      dirs.emplace_back(fcntl(roots_[to_root].fd.get(), F_DUPFD_CLOEXEC, 0));
      if (!dirs.back().valid()) return OpenError(name, errno);
      for (const auto& p : below) rest.push_back(p.string());
    } else {
      for (const auto& p : fs::path(target)) rest.push_back(p.string());
    }
    pending.insert(pending.begin(), rest.begin(), rest.end());
  }
  // Ends on a folder (the root itself, or "x/.."): opened for reading like a file, refused by the reader.
  UniqueFd fd(openat(dirs.back().get(), ".", kReadFlags));
  if (!fd.valid()) return OpenError(name, errno);
  return fd;
}

// The open descriptor, checked again: where the kernel says it leads must lie inside a root.
Status Containment::CheckOpened(int fd, const std::string& name) const {
  const std::string link = ReadLink(AT_FDCWD, ("/proc/self/fd/" + std::to_string(fd)).c_str());
  if (link.empty() || link.front() != '/') return Status::Ok();  // no /proc here: the open alone decides
  std::string_view shown = link;
  if (shown.ends_with(" (deleted)")) shown.remove_suffix(std::strlen(" (deleted)"));
  const fs::path real(shown);
  for (const auto& root : roots_) {
    if (Inside(root.path, real)) return Status::Ok();
  }
  return Refused(name, "resolves to " + real.string());
}

}  // namespace facefill::pipeline
