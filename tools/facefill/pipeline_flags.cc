// Pipeline flags -> BackfillOptions.
#include "pipeline_flags.h"

#include <string>
#include <thread>

namespace facefill::cli {
namespace {

// The flag's earlier name, still accepted but not listed in --help; giving both names is an error.
void AddHiddenAlias(CLI::App* app, CLI::Option* flag, const std::string& old_name, int* value) {
  app->add_option(old_name, *value, "Earlier name of " + flag->get_name())->group("")->excludes(flag);
}

}  // namespace

void AddPipelineFlags(CLI::App* app, BackfillOptions* o) {
  // "worker" names a `facefill worker` process and "batch" nothing: these say what they count.
  auto* faces =
      app->add_option("--faces-per-call", o->faces_per_call, "Faces per embedder call, gathered across images")
          ->capture_default_str();
  AddHiddenAlias(app, faces, "--batch-size", &o->faces_per_call);
  app->add_option("--images-per-detect-call", o->images_per_detect_call,
                  "Images per detector call, among those decoded and waiting (needs a detector made batch-capable by "
                  "`facefill models batchify`; 1 on the CPU, 8 with --device cuda unless given)")
      ->capture_default_str();
  app->add_option("--decode-threads", o->decode_threads, "Image decoding threads")->capture_default_str();
  auto* threads = app->add_option("--inference-threads", o->inference_threads,
                                  "Detect/align/embed threads in this process (0: one per core)")
                      ->capture_default_str();
  AddHiddenAlias(app, threads, "--workers", &o->inference_threads);
  auto* commit =
      app->add_option("--assets-per-commit", o->assets_per_commit, "Assets per catalog transaction (and vector write)")
          ->capture_default_str();
  AddHiddenAlias(app, commit, "--write-batch", &o->assets_per_commit);
  app->add_option("--max-pixels", o->decode.max_pixels, "Refuse larger images")->capture_default_str();
  app->add_option("--max-file-size", o->decode.max_file_bytes, "Refuse larger files (bytes)")->capture_default_str();
  auto* scale = app->add_option("--decode-scale", o->decode.reduce,
                                "JPEG decode scale 1/N: 1 (full resolution: the embeddings of a full decode), 2, 4, "
                                "8, or 0 for auto (large JPEGs reduced, shorter side kept >= 1000 px: less decode "
                                "work, slightly different embeddings)")
                    ->capture_default_str();
  app->add_flag_callback(
      "--region-decode",
      [o, scale] {
        o->decode.region_decode = true;
        if (scale->count() == 0) o->decode.reduce = 0;  // detection needs the reduced decode
      },
      "JPEGs: detect on the reduced decode the detector needs and align each face from its region decoded again at "
      "full resolution (the file is read once; implies --decode-scale 0)");
  app->add_option("--library-root", o->library_roots,
                  "Read only files inside these folders (in addition to the roots `scan` recorded)");
  auto* lease = app->add_option("--assets-per-lease", o->assets_per_lease, "Shared catalogs: assets leased at a time")
                    ->capture_default_str();
  AddHiddenAlias(app, lease, "--claim-batch", &o->assets_per_lease);
  app->add_option("--lease-seconds", o->lease_seconds,
                  "Shared catalogs: a running holder renews its leases every third of this; the assets of one that "
                  "stops (killed) are taken over by others after this long")
      ->capture_default_str();
  app->add_flag("--force-model", o->force_model,
                "Write into a vector store even when its vectors come from another recogniser (or cannot be "
                "checked); vectors of two models are not comparable");
}

void PlanPipelineForDevice(const CLI::App& app, const std::string& device, BackfillOptions* options) {
  auto parsed = Device::Parse(device);
  if (!parsed.ok()) return;
  ChosenSettings chosen;
  chosen.inference_threads = app.count("--inference-threads") + app.count("--workers") > 0;
  chosen.decode_threads = app.count("--decode-threads") > 0;
  chosen.images_per_detect_call = app.count("--images-per-detect-call") > 0;
  PlanForDevice(*parsed, std::thread::hardware_concurrency(), chosen, options);
}

}  // namespace facefill::cli
