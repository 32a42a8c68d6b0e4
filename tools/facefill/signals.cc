// Drain-on-first-signal handlers.
#include "signals.h"

#include <unistd.h>

#include <csignal>
#include <cstring>

namespace facefill::cli {
namespace {

std::atomic<bool> g_drain{false};

// Only write(2) here: it is async-signal-safe. Each message starts on a fresh line (the progress bar's line is
// ended) so the shell's prompt never lands on the bar.
void Say(const char* text) {
  ssize_t ignored = write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

extern "C" void OnSignal(int) {
  if (g_drain.exchange(true)) {
    Say("\r\nstopped: work in flight not committed; run the command again to resume\n");
    _exit(130);
  }
  Say("\r\nstopping: committing the work in flight (Ctrl-C again quits at once)\n");
}

}  // namespace

const std::atomic<bool>* InstallDrainSignals() {
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  return &g_drain;
}

}  // namespace facefill::cli
