// facefill command-line entry point: parses the subcommand and hands over to it.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <vector>

#include "commands.h"

namespace {

// Edit distance between two short words (for "did you mean").
size_t Distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The first word that is not a top-level flag, when it names no subcommand: an error with the closest name.
bool RejectUnknownSubcommand(CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string word = argv[i];
    if (!word.empty() && word[0] == '-') continue;  // -v, --help: CLI11's business
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands({})) names.push_back(sub->get_name());
    if (std::find(names.begin(), names.end(), word) != names.end()) return false;
    std::string best;
    size_t best_distance = 3;  // suggest only close names
    for (const auto& name : names) {
      const size_t d = Distance(word, name);
      if (d < best_distance || (word.size() >= 3 && name.rfind(word, 0) == 0 && best.empty())) {
        best_distance = std::min(d, best_distance);
        best = name;
      }
    }
    std::string list;
    for (const auto& name : names) list += (list.empty() ? "" : ", ") + name;
    spdlog::error("unknown subcommand '{}'{} Commands: {} (facefill --help)", word,
                  best.empty() ? "." : ", did you mean " + best + "?", list);
    return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("facefill"));
  spdlog::set_pattern("%^%l%$: %v");
  CLI::App app{"facefill: find every face in an image library and index it"};
  app.require_subcommand(1);
  // Subcommands created below hand flags they do not know (-v) to this level, so `facefill stats -v` works too.
  app.fallthrough();
  bool verbose = false;
  app.add_flag("-v,--verbose", verbose, "Debug logging (before or after the subcommand)");
  app.parse_complete_callback([&] {
    if (verbose) spdlog::set_level(spdlog::level::debug);
  });
  facefill::cli::RegisterScan(&app);
  facefill::cli::RegisterBackfill(&app);
  facefill::cli::RegisterSearch(&app);
  facefill::cli::RegisterDetect(&app);
  facefill::cli::RegisterStats(&app);
  facefill::cli::RegisterErrors(&app);
  facefill::cli::RegisterCheck(&app);
  facefill::cli::RegisterCorpus(&app);
  facefill::cli::RegisterWorker(&app);
  facefill::cli::RegisterJobs(&app);
  facefill::cli::RegisterCluster(&app);
  facefill::cli::RegisterPeople(&app);
  facefill::cli::RegisterServe(&app);
  facefill::cli::RegisterModels(&app);
  if (RejectUnknownSubcommand(app, argc, argv)) return facefill::cli::kExitUsage;
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : facefill::cli::kExitUsage;
  } catch (const facefill::cli::CommandResult& result) {
    return result.exit_code;
  }
  return facefill::cli::kExitOk;
}
