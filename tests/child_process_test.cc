// The one way tests and the benchmark start child processes: exit codes, signals, captured and redirected output,
// the file-size limit, and functions run in a forked child.
#include "child_process.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <thread>

#include "test_support.h"

namespace facefill::testing {
namespace {

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(ChildProcessTest, RunShellCapturesStdoutAndTheExitCode) {
  auto result = RunShell("echo out; echo err >&2; exit 7");
  EXPECT_EQ(result.exit_code, 7);
  EXPECT_EQ(result.out, "out\n") << "stderr stays out of the capture unless redirected";
  EXPECT_EQ(RunShell("echo both 2>&1 >&2 2>&1").out, "both\n");
  EXPECT_EQ(RunCapturingStdout("/nonexistent/program", {}).exit_code, 127);
}

TEST(ChildProcessTest, SpawnWritesBothStreamsToTheOutputFile) {
  TempDir dir;
  const pid_t pid = Spawn("/bin/sh", {"-c", "echo to-out; echo to-err >&2"}, dir / "log");
  EXPECT_EQ(WaitExit(pid), 0);
  EXPECT_EQ(ReadText(dir / "log"), "to-out\nto-err\n");
}

TEST(ChildProcessTest, PollSaysRunningUntilAKillEndsIt) {
  const pid_t pid = Spawn("/bin/sleep", {"30"});
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_FALSE(PollExit(pid).has_value());
  Kill(pid);
  std::optional<int> code;
  for (int i = 0; i < 200 && !code; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    code = PollExit(pid);
  }
  EXPECT_EQ(code, 128 + SIGKILL);
}

TEST(ChildProcessTest, FileSizeLimitMakesWritesPastItFail) {
  TempDir dir;
  const pid_t pid = Spawn("/bin/sh", {"-c", "head -c 100000 /dev/zero > " + (dir / "big").string()},
                          ChildOptions{.output = {}, .file_size_limit = 4096});
  EXPECT_NE(WaitExit(pid), 0) << "a write past the limit fails, as on a full disk";
  EXPECT_LE(std::filesystem::file_size(dir / "big"), 4096u);
}

TEST(ChildProcessTest, SpawnFunctionReturnsTheBodysExitCode) {
  EXPECT_EQ(WaitExit(SpawnFunction([] { return 42; })), 42);
}

}  // namespace
}  // namespace facefill::testing
