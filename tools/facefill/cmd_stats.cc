// `facefill stats` and `facefill check [--fix]`: what the catalog holds, and whether it agrees with the vectors.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "facefill/search.h"
#include "store_flags.h"

namespace facefill::cli {
namespace {

struct StatsFlags {
  StoreFlags stores;
  bool json = false;
  bool fix = false;
};

int RunStats(const StatsFlags& flags) {
  Stores stores;
  if (int rc = OpenStoresOrExit(flags.stores, &stores); rc != kExitOk) return rc;
  auto stats = stores.catalog->Stats();
  auto vectors = stores.vectors->Count();
  if (!stats.ok() || !vectors.ok()) {
    spdlog::error("{}", (!stats.ok() ? stats.status() : vectors.status()).ToString());
    return kExitFailure;
  }
  if (flags.json) {
    auto roots = stores.catalog->LibraryRoots();
    nlohmann::json j = {{"assets", stats->assets},
                        {"scanned", stats->scanned},
                        {"no_faces", stats->no_faces},
                        {"errors", stats->errors},
                        {"faces", stats->faces},
                        {"vectors", *vectors},
                        {"pending", stats->assets - stats->scanned - stats->errors},
                        {"errors_by_reason", stats->errors_by_reason},
                        {"scanned_by_service", stats->scanned_by_service},
                        {"rejected_files", stats->rejected_files},

                        {"library_roots", roots.ok() ? *roots : std::vector<std::string>{}}};
    std::cout << j.dump() << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("assets {}\nscanned {} ({} without faces)\nerrors {}\npending {}\nfaces {}\nvectors {}\n",
                           stats->assets, stats->scanned, stats->no_faces, stats->errors,
                           stats->assets - stats->scanned - stats->errors, stats->faces, *vectors);
  for (const auto& [reason, count] : stats->errors_by_reason) std::cout << fmt::format("  {}: {}\n", reason, count);
  if (stats->scanned_by_service > 0) {
    std::cout << fmt::format("{} assets were face-scanned by the image-search service (kept as they are)\n",
                             stats->scanned_by_service);
  }
  if (stats->rejected_files > 0) {
    std::cout << fmt::format("{} files could not be added to the catalog (see the reasons above)\n",
                             stats->rejected_files);
  }
  if (stats->errors > 0) std::cout << "(`facefill errors` lists the failed files)\n";
  return kExitOk;
}

int RunCheck(const StatsFlags& flags) {
  Stores stores;
  if (int rc = OpenStoresOrExit(flags.stores, &stores); rc != kExitOk) return rc;
  auto report = CheckConsistency(*stores.catalog, *stores.vectors, flags.fix);
  if (!report.ok()) {
    spdlog::error("{}", report.status().ToString());
    return kExitFailure;
  }
  if (flags.json) {
    nlohmann::json j = {{"faces_without_vectors", report->faces_without_vectors},
                        {"vectors_without_faces", report->vectors_without_faces},
                        {"assets_missing_faces", report->assets_missing_faces},
                        {"clean", report->clean()},
                        {"fixed", flags.fix}};
    std::cout << j.dump() << "\n";
  } else {
    std::cout << fmt::format("faces without vectors: {}\nvectors without faces: {}\nassets with missing faces: {}\n",
                             report->faces_without_vectors.size(), report->vectors_without_faces.size(),
                             report->assets_missing_faces.size());
    if (!report->clean()) {
      std::cout << (flags.fix ? "fixed: orphan vectors deleted, affected assets queued for the next backfill\n"
                              : "run `facefill check --fix`, then `facefill backfill`\n");
    }
  }
  return report->clean() || flags.fix ? kExitOk : kExitPartial;
}

}  // namespace

void RegisterStats(CLI::App* app) {
  auto flags = std::make_shared<StatsFlags>();
  CLI::App* cmd = app->add_subcommand("stats", "Counts of assets, scans, errors, faces and vectors");
  AddStoreFlags(cmd, &flags->stores);
  cmd->add_flag("--json", flags->json, "JSON output");
  cmd->final_callback([flags] { throw CommandResult(RunStats(*flags)); });
}

void RegisterCheck(CLI::App* app) {
  auto flags = std::make_shared<StatsFlags>();
  CLI::App* cmd = app->add_subcommand("check", "Compare the catalog with the vector store (exit 1 if they differ)");
  AddStoreFlags(cmd, &flags->stores);
  cmd->add_flag("--fix", flags->fix, "Delete orphan vectors and queue damaged assets for rescanning");
  cmd->add_flag("--json", flags->json, "JSON output");
  cmd->final_callback([flags] { throw CommandResult(RunCheck(*flags)); });
}

}  // namespace facefill::cli
