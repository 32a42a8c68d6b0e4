// Subcommand registration and exit codes of the facefill CLI.
#pragma once

#include <CLI/CLI.hpp>

namespace facefill::cli {

constexpr int kExitOk = 0;
constexpr int kExitPartial = 1;  // finished, but some inputs failed (each reported)
constexpr int kExitUsage = 2;    // bad flags, missing models or another setup problem
constexpr int kExitFailure = 3;  // the job stopped (database or vector store failure); state is consistent

// Thrown by a subcommand's callback to hand its exit code to main.
struct CommandResult {
  int exit_code;
};

void RegisterDetect(CLI::App* app);
void RegisterScan(CLI::App* app);
void RegisterBackfill(CLI::App* app);
void RegisterSearch(CLI::App* app);
void RegisterStats(CLI::App* app);
void RegisterCheck(CLI::App* app);
void RegisterCorpus(CLI::App* app);
void RegisterWorker(CLI::App* app);
void RegisterJobs(CLI::App* app);
void RegisterErrors(CLI::App* app);
void RegisterCluster(CLI::App* app);
void RegisterPeople(CLI::App* app);
void RegisterServe(CLI::App* app);
void RegisterModels(CLI::App* app);

}  // namespace facefill::cli
