// `facefill scan DIR`: add new image files to the catalog and refresh changed ones.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "facefill/library_scan.h"
#include "facefill/prune.h"
#include "store_flags.h"

namespace facefill::cli {
namespace {

struct ScanFlags {
  std::vector<std::string> roots;
  StoreFlags stores;
  bool json = false;
  bool prune = false;
};

int Run(ScanFlags flags) {
  flags.stores.create_if_missing = true;  // scan is the command that creates a catalog
  if (flags.prune && flags.stores.db.find("://") != std::string::npos && flags.stores.db.rfind("sqlite:", 0) != 0) {
    spdlog::error(
        "--prune is refused on a shared catalog: on the service's database, removing image_assets rows "
        "is the service's business");
    return kExitUsage;
  }
  Stores stores;
  if (int rc = OpenStoresOrExit(flags.stores, &stores); rc != kExitOk) return rc;
  int exit_code = kExitOk;
  for (const auto& root : flags.roots) {
    auto report = ScanLibrary(root, stores.catalog.get());
    if (!report.ok()) {
      spdlog::error("{}", report.status().ToString());
      exit_code = report.status().code() == StatusCode::kDatabaseError ? kExitUsage : kExitPartial;
      continue;
    }
    nlohmann::json rejected = nlohmann::json::array();
    for (const auto& r : report->counts.rejected) {
      rejected.push_back(
          {{"path", r.path}, {"reason", StatusCodeName(r.reason.code())}, {"message", r.reason.message()}});
    }
    if (!report->counts.rejected.empty()) exit_code = kExitPartial;
    PruneReport pruned;
    if (flags.prune) {
      auto p = PruneMissing(root, *stores.catalog, *stores.vectors);
      if (!p.ok()) {
        spdlog::error("prune: {}", p.status().ToString());
        return kExitFailure;
      }
      pruned = *p;
    }
    if (flags.json) {
      nlohmann::json j = {{"root", root},
                          {"pruned_assets", pruned.removed_assets},
                          {"pruned_faces", pruned.removed_faces},
                          {"files_seen", report->files_seen},
                          {"images", report->images},
                          {"ignored", report->ignored},
                          {"added", report->counts.added},
                          {"refreshed", report->counts.refreshed},
                          {"unchanged", report->counts.unchanged},
                          {"left_to_service", report->counts.left_to_service},
                          {"rejected", rejected},
                          {"unreadable_dirs", report->unreadable_dirs}};
      std::cout << j.dump() << "\n";
    } else {
      std::cout << fmt::format("{}: {} images ({} added, {} refreshed, {} unchanged), {} other files ignored\n", root,
                               report->images, report->counts.added, report->counts.refreshed, report->counts.unchanged,
                               report->ignored);
      if (report->counts.left_to_service > 0) {
        std::cout << fmt::format(
            "  {} changed on disk since the image-search service recorded them: their rows are the service's to "
            "update (`backfill --rescan` re-detects their faces)\n",
            report->counts.left_to_service);
      }
      for (const auto& r : report->counts.rejected) {
        std::cout << fmt::format("  not added: {} ({}: {})\n", r.path, StatusCodeName(r.reason.code()),
                                 r.reason.message());
      }
      if (flags.prune) {
        std::cout << fmt::format("{}: {} missing file(s) removed from the catalog with {} face(s)\n", root,
                                 pruned.removed_assets, pruned.removed_faces);
      }
    }
  }
  return exit_code;
}

}  // namespace

void RegisterScan(CLI::App* app) {
  auto flags = std::make_shared<ScanFlags>();
  CLI::App* cmd = app->add_subcommand("scan", "Add new and changed image files under DIR to the catalog");
  cmd->add_option("dirs", flags->roots, "Library folders")->required();
  AddStoreFlags(cmd, &flags->stores);
  cmd->add_flag("--json", flags->json, "Machine-readable summary");
  cmd->add_flag(
      "--prune", flags->prune,
      "Also remove assets under DIR whose files are gone, with their faces and vectors (SQLite catalog only)");
  cmd->final_callback([flags] { throw CommandResult(Run(*flags)); });
}

}  // namespace facefill::cli
