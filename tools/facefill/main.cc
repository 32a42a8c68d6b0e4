// facefill command-line entry point: parses the subcommand and hands over to it.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "commands.h"

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("facefill"));
  spdlog::set_pattern("%^%l%$: %v");
  CLI::App app{"facefill: find every face in an image library and index it"};
  app.require_subcommand(1);
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Debug logging");
  app.parse_complete_callback([&] {
    if (verbose) spdlog::set_level(spdlog::level::debug);
  });
  facefill::cli::RegisterScan(&app);
  facefill::cli::RegisterBackfill(&app);
  facefill::cli::RegisterSearch(&app);
  facefill::cli::RegisterDetect(&app);
  facefill::cli::RegisterStats(&app);
  facefill::cli::RegisterCheck(&app);
  facefill::cli::RegisterCorpus(&app);
  facefill::cli::RegisterWorker(&app);
  facefill::cli::RegisterJobs(&app);
  facefill::cli::RegisterCluster(&app);
  facefill::cli::RegisterPeople(&app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : facefill::cli::kExitUsage;
  } catch (const facefill::cli::CommandResult& result) {
    return result.exit_code;
  }
  return facefill::cli::kExitOk;
}
