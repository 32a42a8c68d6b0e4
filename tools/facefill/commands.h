// Subcommand registration and exit codes of the facefill CLI.
#pragma once

#include <CLI/CLI.hpp>

namespace facefill::cli {

constexpr int kExitOk = 0;
constexpr int kExitPartial = 1;  // finished, but some inputs failed (each reported)
constexpr int kExitUsage = 2;    // bad flags, missing models or another setup problem

// Thrown by a subcommand's callback to hand its exit code to main.
struct CommandResult {
  int exit_code;
};

void RegisterDetect(CLI::App* app);

}  // namespace facefill::cli
