// `facefill errors`: the files whose last scan failed, with the reason and what the reader said.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "store_flags.h"

namespace facefill::cli {
namespace {

struct ErrorsFlags {
  StoreFlags stores;
  int64_t limit = 0;
  bool json = false;
};

int Run(const ErrorsFlags& flags) {
  Stores stores;
  if (int rc = OpenStoresOrExit(flags.stores, &stores); rc != kExitOk) return rc;
  auto failed = stores.catalog->ListErrors(flags.limit);
  if (!failed.ok()) {
    spdlog::error("{}", failed.status().ToString());
    return kExitFailure;
  }
  if (flags.json) {
    nlohmann::json all = nlohmann::json::array();
    for (const auto& f : *failed) {
      all.push_back({{"asset_id", f.asset_id},
                     {"path", f.path},
                     {"reason", f.reason},
                     {"message", f.message},
                     {"scanned_at", f.scanned_at}});
    }
    std::cout << all.dump() << "\n";
    return kExitOk;
  }
  for (const auto& f : *failed) std::cout << fmt::format("{}  {}  {}\n", f.reason, f.path, f.message);
  std::cout << (failed->empty() ? "no failed files\n"
                                : fmt::format("{} failed file(s); `facefill backfill --retry-errors` retries them\n",
                                              failed->size()));
  return kExitOk;
}

}  // namespace

void RegisterErrors(CLI::App* app) {
  auto flags = std::make_shared<ErrorsFlags>();
  CLI::App* cmd = app->add_subcommand("errors", "List the files whose last scan failed: reason, path, message");
  AddStoreFlags(cmd, &flags->stores);
  cmd->add_option("--limit", flags->limit, "At most N, most recent first (0: all)")->capture_default_str();
  cmd->add_flag("--json", flags->json, "JSON output: [{asset_id, path, reason, message, scanned_at}]");
  cmd->final_callback([flags] { throw CommandResult(Run(*flags)); });
}

}  // namespace facefill::cli
