// Spawn, wait, poll, kill and capture: fork and exec in one place for every test and the benchmark.
#include "child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

namespace facefill::testing {
namespace {

int ExitCode(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

// argv for execv, over strings the caller keeps alive.
std::vector<char*> Argv(std::vector<std::string>& strings) {
  std::vector<char*> argv;
  for (auto& s : strings) argv.push_back(s.data());
  argv.push_back(nullptr);
  return argv;
}

// Forks; the child sets its limits and output as `options` say (stdout to `stdout_fd` when >= 0), runs `body`
// (which does not return on success) and exits 127.
template <typename Body>
pid_t ForkWith(const ChildOptions& options, int stdout_fd, Body&& body) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  if (options.file_size_limit) {
    const rlimit limit{static_cast<rlim_t>(*options.file_size_limit), static_cast<rlim_t>(*options.file_size_limit)};
    setrlimit(RLIMIT_FSIZE, &limit);
    signal(SIGXFSZ, SIG_IGN);
  }
  if (stdout_fd >= 0) {
    dup2(stdout_fd, STDOUT_FILENO);  // stderr stays the parent's, as with popen
  } else {
    const int out = options.output.empty() ? open("/dev/null", O_WRONLY)
                                           : open(options.output.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
  }
  body();
  _exit(127);
}

}  // namespace

pid_t Spawn(const std::string& program, const std::vector<std::string>& args, const ChildOptions& options) {
  std::vector<std::string> strings{program};
  strings.insert(strings.end(), args.begin(), args.end());
  std::vector<char*> argv = Argv(strings);  // built before fork: the child only execs
  return ForkWith(options, -1, [&] { execv(program.c_str(), argv.data()); });
}

pid_t Spawn(const std::string& program, const std::vector<std::string>& args, const std::filesystem::path& output) {
  return Spawn(program, args, ChildOptions{.output = output, .file_size_limit = std::nullopt});
}

pid_t SpawnFunction(const std::function<int()>& body, const ChildOptions& options) {
  return ForkWith(options, -1, [&] { _exit(body()); });
}

int WaitExit(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return 127;  // not our child, or already reaped
  }
  return ExitCode(status);
}

std::optional<int> PollExit(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) != pid) return std::nullopt;
  return ExitCode(status);
}

void Kill(pid_t pid, int signal) {
  if (pid > 0) kill(pid, signal);
}

ChildResult RunCapturingStdout(const std::string& program, const std::vector<std::string>& args) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return {127, ""};
  std::vector<std::string> strings{program};
  strings.insert(strings.end(), args.begin(), args.end());
  std::vector<char*> argv = Argv(strings);
  const pid_t pid = ForkWith({}, pipe_fds[1], [&] { execv(program.c_str(), argv.data()); });
  close(pipe_fds[1]);
  ChildResult result;
  char buffer[4096];
  for (ssize_t n; (n = read(pipe_fds[0], buffer, sizeof buffer)) != 0;) {
    if (n > 0) result.out.append(buffer, static_cast<size_t>(n));
    if (n < 0 && errno != EINTR) break;
  }
  close(pipe_fds[0]);
  result.exit_code = pid < 0 ? 127 : WaitExit(pid);
  return result;
}

ChildResult RunShell(const std::string& command) { return RunCapturingStdout("/bin/sh", {"-c", command}); }

}  // namespace facefill::testing
