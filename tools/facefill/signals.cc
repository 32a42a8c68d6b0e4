// Drain-on-first-signal handlers.
#include "signals.h"

#include <unistd.h>

#include <csignal>

namespace facefill::cli {
namespace {

std::atomic<bool> g_drain{false};

extern "C" void OnSignal(int) {
  if (g_drain.exchange(true)) _exit(130);
}

}  // namespace

const std::atomic<bool>* InstallDrainSignals() {
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  return &g_drain;
}

}  // namespace facefill::cli
