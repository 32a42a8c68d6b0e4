// Child processes for the tests and the benchmark, started one way: a program with arguments (or a function in a
// forked copy, or a shell line), its output to a file, captured, or discarded; then wait, poll, kill, read output.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace facefill::testing {

struct ChildOptions {
  // stdout and stderr go to this file (truncated); empty: discarded.
  std::filesystem::path output;
  // The child's file-size limit in bytes (RLIMIT_FSIZE, SIGXFSZ ignored): writes past it fail as a full disk would.
  std::optional<uint64_t> file_size_limit;
};

// Starts `program` (a path) with `args` in a child process; a child that cannot exec it exits 127.
pid_t Spawn(const std::string& program, const std::vector<std::string>& args, const ChildOptions& options);
// The same, stdout and stderr to `output` (default: discarded).
pid_t Spawn(const std::string& program, const std::vector<std::string>& args, const std::filesystem::path& output = {});
// Runs `body` in a forked copy of this process; its return value is the child's exit code.
pid_t SpawnFunction(const std::function<int()>& body, const ChildOptions& options = {});

// Waits for a child: its exit code, or 128 + the signal that ended it.
int WaitExit(pid_t pid);
// The exit code (as WaitExit) when the child has ended, reaping it; nullopt while it runs.
std::optional<int> PollExit(pid_t pid);
// Sends `signal` to a child.
void Kill(pid_t pid, int signal = SIGKILL);

// Runs `program` to the end: its exit code (as WaitExit) and what it wrote to stdout; stderr stays this process's.
struct ChildResult {
  int exit_code = 0;
  std::string out;
};
ChildResult RunCapturingStdout(const std::string& program, const std::vector<std::string>& args);
// Runs a shell command line (/bin/sh -c) the same way (add " 2>&1" to the command for stderr too).
ChildResult RunShell(const std::string& command);

}  // namespace facefill::testing
