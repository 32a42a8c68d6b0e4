// `facefill corpus --out DIR`: write a deterministic benchmark library of phone-like photos.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "commands.h"
#include "facefill/corpus.h"

namespace facefill::cli {
namespace {

struct CorpusFlags {
  std::string out;
  std::string profile = "12mp";
  int count = 100;
  uint64_t seed = 1;
  std::vector<std::string> faces;
  std::vector<std::string> backgrounds;
};

int Run(const CorpusFlags& flags) {
  auto options = CorpusOptions::ForProfile(flags.profile);
  if (!options.ok()) {
    spdlog::error("{}", options.status().ToString());
    return kExitUsage;
  }
  options->count = flags.count;
  options->seed = flags.seed;
  std::vector<std::filesystem::path> faces(flags.faces.begin(), flags.faces.end());
  if (faces.empty()) {
    // As the README says: the shared photos beside the project when present, else the sample photos setup fetched.
    const auto shared = std::filesystem::path(FACEFILL_SOURCE_DIR).parent_path() / "shared" / "images";
    const auto samples = std::filesystem::path(FACEFILL_DEFAULT_MODELS_DIR).parent_path().parent_path() / "samples";
    std::error_code ec;
    faces.push_back(std::filesystem::is_directory(shared, ec) ? shared : samples);
    spdlog::info("photos with faces from {}", faces.back().string());
  }
  std::vector<std::filesystem::path> backgrounds(flags.backgrounds.begin(), flags.backgrounds.end());
  auto report = GenerateCorpus(faces, backgrounds, flags.out, *options);
  if (!report.ok()) {
    spdlog::error("{}", report.status().ToString());
    return kExitUsage;
  }
  std::cout << fmt::format("{}: {} images written ({:.1f} MB), {} already there\n", flags.out, report->written,
                           report->bytes / 1e6, report->skipped_existing);
  return kExitOk;
}

}  // namespace

void RegisterCorpus(CLI::App* app) {
  auto flags = std::make_shared<CorpusFlags>();
  CLI::App* cmd = app->add_subcommand("corpus", "Write a deterministic benchmark library composed from real photos");
  cmd->add_option("--out", flags->out, "Output folder")->required();
  cmd->add_option("--profile", flags->profile, "12mp (4032x3024) or 3mp (2000x1500)")->capture_default_str();
  cmd->add_option("--count", flags->count, "Number of images")->capture_default_str();
  cmd->add_option("--seed", flags->seed, "Seed: the same seed gives the same images")->capture_default_str();
  cmd->add_option("--faces", flags->faces,
                  "Folders of photos with faces (default: ../shared/images beside the project, else the sample photos "
                  "scripts/setup.sh fetched)");
  cmd->add_option("--backgrounds", flags->backgrounds, "Folders of photos without faces (backgrounds)");
  cmd->final_callback([flags] { throw CommandResult(Run(*flags)); });
}

}  // namespace facefill::cli
