// Library-root containment: files are opened beneath a root and read through that descriptor; symlinks that stay
// inside a root work, every way out (symlinks, "..", a swap between check and read) is refused.
#include "pipeline/containment.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "facefill/image.h"
#include "test_support.h"

namespace facefill::pipeline {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// The whole content of a file opened through `containment`, or its error.
Result<std::string> ReadThrough(const Containment& containment, const fs::path& path) {
  auto fd = containment.Open(path);
  if (!fd.ok()) return fd.status();
  std::vector<uint8_t> bytes;
  FACEFILL_RETURN_IF_ERROR(ReadOpenFileBytes(fd->get(), path.string(), 1 << 20, &bytes));
  return std::string(bytes.begin(), bytes.end());
}

void Write(const fs::path& path, const std::string& text) {
  testing::WriteBytes(path, std::vector<uint8_t>(text.begin(), text.end()));
}

class ContainmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(library_ / "sub" / "deeper");
    fs::create_directories(outside_);
    Write(library_ / "inside.jpg", "inside");
    Write(library_ / "sub" / "deeper" / "nested.jpg", "nested");
    Write(outside_ / "secret.jpg", "secret");
  }

  TempDir dir_;
  const fs::path library_ = dir_ / "library";
  const fs::path outside_ = dir_ / "outside";
};

TEST_F(ContainmentTest, SymlinksThatStayInsideTheRootAreFollowed) {
  fs::create_symlink(library_ / "inside.jpg", library_ / "absolute_alias.jpg");
  fs::create_symlink("../inside.jpg", library_ / "sub" / "relative_alias.jpg");
  fs::create_symlink(library_ / "sub", library_ / "linked_folder");
  fs::create_symlink("deeper/../../inside.jpg", library_ / "sub" / "up_and_down.jpg");
  Containment containment({library_.string()});
  for (const auto& [path, text] :
       std::vector<std::pair<fs::path, std::string>>{{library_ / "inside.jpg", "inside"},
                                                     {library_ / "absolute_alias.jpg", "inside"},
                                                     {library_ / "sub" / "relative_alias.jpg", "inside"},
                                                     {library_ / "linked_folder" / "deeper" / "nested.jpg", "nested"},
                                                     {library_ / "sub" / "up_and_down.jpg", "inside"},
                                                     {library_ / "sub" / ".." / "inside.jpg", "inside"}}) {
    auto read = ReadThrough(containment, path);
    ASSERT_TRUE(read.ok()) << path << ": " << read.status().ToString();
    EXPECT_EQ(*read, text) << path;
  }
}

TEST_F(ContainmentTest, EveryWayOutIsRefused) {
  fs::create_symlink(outside_ / "secret.jpg", library_ / "absolute_escape.jpg");
  fs::create_symlink("../../outside/secret.jpg", library_ / "sub" / "dotdot_escape.jpg");
  fs::create_symlink(outside_, library_ / "outside_folder");
  fs::create_symlink("/proc/self/root" + (outside_ / "secret.jpg").string(), library_ / "magic_escape.jpg");
  fs::create_symlink("loop_b.jpg", library_ / "loop_a.jpg");
  fs::create_symlink("loop_a.jpg", library_ / "loop_b.jpg");
  Containment containment({library_.string()});
  for (const fs::path& path :
       {library_ / "absolute_escape.jpg", library_ / "sub" / "dotdot_escape.jpg",
        library_ / "outside_folder" / "secret.jpg", library_ / "magic_escape.jpg", library_ / "loop_a.jpg",
        outside_ / "secret.jpg", fs::path("/etc/hostname"), library_ / ".." / "outside" / "secret.jpg"}) {
    auto read = ReadThrough(containment, path);
    ASSERT_FALSE(read.ok()) << path << " was read: " << *read;
    EXPECT_EQ(read.status().code(), StatusCode::kPermissionDenied) << path << ": " << read.status().ToString();
  }
}

TEST_F(ContainmentTest, WhatCannotBeOpenedIsAnErrorNotAnOpenDoor) {
  fs::create_symlink(library_ / "gone.jpg", library_ / "dangling.jpg");
  Containment containment({library_.string()});
  for (const fs::path& path :
       {library_ / "missing.jpg", library_ / "dangling.jpg", library_ / "no_such_folder" / "x.jpg"}) {
    auto read = ReadThrough(containment, path);
    ASSERT_FALSE(read.ok()) << path;
    EXPECT_EQ(read.status().code(), StatusCode::kNotFound) << read.status().ToString();
  }
  auto folder = ReadThrough(containment, library_ / "sub");
  ASSERT_FALSE(folder.ok());
  EXPECT_EQ(folder.status().code(), StatusCode::kUnsupportedFormat) << folder.status().ToString();
  // A root that does not exist admits nothing, even once something appears at its path.
  Containment missing_root({(dir_ / "not_yet").string()});
  fs::create_directories(dir_ / "not_yet");
  Write(dir_ / "not_yet" / "a.jpg", "a");
  EXPECT_EQ(ReadThrough(missing_root, dir_ / "not_yet" / "a.jpg").status().code(), StatusCode::kPermissionDenied);
  // With no roots at all nothing is refused (the embedded default), but errors stay typed.
  Containment open({});
  EXPECT_EQ(*ReadThrough(open, outside_ / "secret.jpg"), "secret");
  EXPECT_EQ(ReadThrough(open, library_ / "missing.jpg").status().code(), StatusCode::kNotFound);
}

// The old check-then-open: a file swapped for a symlink after the check was read through it. Now the one open
// binds the file: what was opened is what is read, and a swap before the open is refused.
TEST_F(ContainmentTest, ASwapAfterTheOpenReadsTheOpenedFileAndASwapBeforeItIsRefused) {
  Containment containment({library_.string()});
  const fs::path target = library_ / "inside.jpg";
  auto fd = containment.Open(target);
  ASSERT_TRUE(fd.ok());
  fs::create_symlink(outside_ / "secret.jpg", library_ / "swap.tmp");
  fs::rename(library_ / "swap.tmp", target);  // the path now leads out
  std::vector<uint8_t> bytes;
  ASSERT_TRUE(ReadOpenFileBytes(fd->get(), target.string(), 1 << 20, &bytes).ok());
  EXPECT_EQ(std::string(bytes.begin(), bytes.end()), "inside");
  auto again = ReadThrough(containment, target);
  ASSERT_FALSE(again.ok()) << "read through the swapped-in symlink: " << *again;
  EXPECT_EQ(again.status().code(), StatusCode::kPermissionDenied);
}

// A swapper replaces the file by a symlink out of the library and back, as fast as it can, while it is read over
// and over: no read ever returns the outside file.
TEST_F(ContainmentTest, ASymlinkRacingTheOpenNeverEscapes) {
  Containment containment({library_.string()});
  const fs::path target = library_ / "racy.jpg";
  Write(target, "inside");
  std::atomic<bool> stop{false};
  std::thread swapper([&] {
    for (int i = 0; !stop; ++i) {
      const fs::path tmp = library_ / ("tmp" + std::to_string(i % 2));
      std::error_code ec;
      fs::remove(tmp, ec);
      if (i % 2 == 0) {
        fs::create_symlink(outside_ / "secret.jpg", tmp, ec);
      } else {
        Write(tmp, "inside");
      }
      fs::rename(tmp, target, ec);
    }
  });
  int inside = 0, refused = 0, escaped = 0;
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < until) {
    auto read = ReadThrough(containment, target);
    if (!read.ok()) {
      ++refused;
    } else if (*read == "inside") {
      ++inside;
    } else if (!read->empty()) {  // empty: caught between the create and the write of the regular file
      ++escaped;
    }
  }
  stop = true;
  swapper.join();
  EXPECT_EQ(escaped, 0) << "read the outside file through the library";
  EXPECT_GT(inside, 0);
  EXPECT_GT(refused, 0) << "the swapper never won a race: the test proved nothing";
  std::cout << inside << " reads inside, " << refused << " refused, " << escaped << " escaped\n";
}

}  // namespace
}  // namespace facefill::pipeline
