// `facefill models`: model-file tools. `show` prints the files a pack resolves to; `batchify IN OUT` gives a model a
// dynamic batch dimension, verified on real photos.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "facefill/model_batchify.h"
#include "model_flags.h"

namespace facefill::cli {
namespace {

struct BatchifyFlags {
  std::string in;
  std::string out;
  std::vector<std::string> images;
  int batch = BatchifyOptions().verify_batch;
  float tolerance = BatchifyOptions().tolerance;
};

int RunBatchify(const BatchifyFlags& flags) {
  BatchifyOptions options;
  options.verify_batch = flags.batch;
  options.tolerance = flags.tolerance;
  options.sample_images.assign(flags.images.begin(), flags.images.end());
  if (options.sample_images.empty()) {
    // The shared photos beside the project when present, else the sample photos setup fetched (as `corpus`).
    const auto shared = std::filesystem::path(FACEFILL_SOURCE_DIR).parent_path() / "shared" / "images";
    const auto samples = std::filesystem::path(FACEFILL_DEFAULT_MODELS_DIR).parent_path().parent_path() / "samples";
    std::error_code ec;
    options.sample_images.push_back(std::filesystem::is_directory(shared, ec) ? shared : samples);
  }
  auto report = BatchifyModel(flags.in, flags.out, options);
  if (!report.ok()) {
    spdlog::error("{}", report.status().ToString());
    return kExitUsage;
  }
  for (const auto& change : report->changes) std::cout << "  " << change << "\n";
  std::cout << fmt::format(
      "{}: verified: a batch of {} photos gives each photo's single-image outputs at {} (largest difference {:.3g}, "
      "tolerance {:.3g})\n",
      flags.out, report->verified_batch, fmt::join(report->verified_sizes, ", "), report->largest_difference,
      flags.tolerance);
  return kExitOk;
}

struct ShowFlags {
  ModelFlags models;
  bool json = false;
};

std::string KindName(PackKind kind) { return kind == PackKind::kUltraLight ? "ultralight" : "insightface"; }

int RunShow(const ShowFlags& flags) {
  auto pack = LocatePack(flags.models);
  if (!pack) return kExitUsage;
  if (flags.json) {
    std::cout << nlohmann::json{{"id", pack->id},
                                {"kind", KindName(pack->kind)},
                                {"directory", pack->directory.string()},
                                {"detector", pack->detector.string()},
                                {"landmarks", pack->landmarks.string()},
                                {"recognizer", pack->recognizer.string()}}
                     .dump()
              << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("pack {} ({})\n  folder      {}\n  detector    {}\n", pack->id, KindName(pack->kind),
                           pack->directory.string(), pack->detector.string());
  if (!pack->landmarks.empty()) std::cout << fmt::format("  landmarks   {}\n", pack->landmarks.string());
  std::cout << fmt::format("  recognizer  {}\n", pack->recognizer.string());
  return kExitOk;
}

}  // namespace

void RegisterModels(CLI::App* app) {
  CLI::App* models = app->add_subcommand("models", "Model-file tools");
  models->require_subcommand(1);
  auto flags = std::make_shared<BatchifyFlags>();
  CLI::App* batchify = models->add_subcommand(
      "batchify",
      "Rewrite a model whose batch is fixed at 1 (ArcFace-style recognisers, SCRFD exports) into one with a dynamic "
      "batch; OUT is written only when a batch of real photos gives each photo's single-image outputs");
  batchify->add_option("IN", flags->in, "The model to rewrite")->required()->check(CLI::ExistingFile);
  batchify->add_option("OUT", flags->out, "Where to write the rewritten model")->required();
  batchify->add_option("--images", flags->images,
                       "Photos or folders for the check (default: ../shared/images beside the project, else the "
                       "sample photos scripts/setup.sh fetched)");
  batchify->add_option("--batch", flags->batch, "Photos run together in the check")->capture_default_str();
  batchify
      ->add_option("--tolerance", flags->tolerance,
                   "Largest difference allowed between a photo's outputs in the batch and alone")
      ->capture_default_str();
  batchify->final_callback([flags] { throw CommandResult(RunBatchify(*flags)); });

  auto show_flags = std::make_shared<ShowFlags>();
  CLI::App* show = models->add_subcommand("show", "The model pack the flags choose: its id and files");
  AddPackFlags(show, &show_flags->models);
  show->add_flag("--json", show_flags->json, "One JSON object");
  show->final_callback([show_flags] { throw CommandResult(RunShow(*show_flags)); });
}

}  // namespace facefill::cli
