// Model selection flags -> ModelPackQuery + AnalyzerOptions.
#include "model_flags.h"

#include <spdlog/spdlog.h>

#include <cstdlib>

namespace facefill::cli {

void AddPackFlags(CLI::App* app, ModelFlags* flags) {
  app->add_option("--models", flags->models_dir,
                  "Model pack folder (default: $FACEFILL_MODELS, ~/.insightface/models/<pack>, then the setup's "
                  "default pack)");
  app->add_option("--detector", flags->detector, "Detector .onnx file, overriding the pack's");
  app->add_option("--recognizer", flags->recognizer, "Recogniser .onnx file, overriding the pack's");
}

void AddModelFlags(CLI::App* app, ModelFlags* flags) {
  AddPackFlags(app, flags);
  app->add_option("--det-threshold", flags->score_threshold, "Detector score threshold")->capture_default_str();
  app->add_flag("--tight-input", flags->tight_input,
                "Detectors with a dynamic input size see only the used part of the letterbox, rounded up to 32 "
                "(a 4:3 photo: 640x480 instead of 640x640): faster, but faces may move slightly from InsightFace's");
  app->add_option(
      "--threads", flags->threads,
      "ONNX Runtime threads per model call (default: 1 per inference thread; all cores for single-image commands "
      "and --sequential)");
  app->add_option("--device", flags->device,
                  "Where models run: cpu, cuda, cuda:N (ONNX Runtime's CUDA provider; scripts/setup.sh --gpu), or "
                  "auto (CUDA when it can be used, else the CPU, saying why)")
      ->envname("FACEFILL_DEVICE")
      ->capture_default_str();
  app->add_flag("--io-binding", flags->io_binding,
                "Run model calls through ONNX Runtime's IoBinding (on CUDA: inputs in page-locked memory, one upload "
                "per call); the results are the same");
}

void AddMaxFacesFlag(CLI::App* app, ModelFlags* flags) {
  app->add_option("--max-faces", flags->max_faces,
                  "Keep at most this many faces per image, the largest and most central first (0: all)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

namespace {

Result<ModelPack> Locate(const ModelFlags& flags) {
  auto pack = LocateModelPack(ModelPackQuery{flags.models_dir, flags.detector, flags.recognizer});
  if (!pack.ok()) spdlog::error("{}", pack.status().ToString());
  return pack;
}

}  // namespace

std::optional<ModelPack> LocatePack(const ModelFlags& flags) {
  auto pack = Locate(flags);
  if (!pack.ok()) return std::nullopt;
  return std::move(pack).value();
}

std::string LocatePackId(const ModelFlags& flags) {
  auto pack = Locate(flags);
  return pack.ok() ? pack->id : std::string();
}

std::unique_ptr<FaceAnalyzer> OpenAnalyzer(const ModelFlags& flags, int threads) {
  auto device = Device::Parse(flags.device);
  if (!device.ok()) {
    spdlog::error("{}", device.status().ToString());
    return nullptr;
  }
  auto pack = Locate(flags);
  if (!pack.ok()) return nullptr;
  AnalyzerOptions options;
  options.detector.runtime.device = *device;
  options.embedder.runtime.device = *device;
  options.detector.score_threshold = flags.score_threshold;
  options.detector.max_faces = flags.max_faces;
  options.detector.tight_input = flags.tight_input;
  options.detector.runtime.io_binding = flags.io_binding;
  options.embedder.runtime.io_binding = flags.io_binding;
  options.detector.runtime.intra_op_threads = threads;
  options.embedder.runtime.intra_op_threads = threads;
  auto analyzer = FaceAnalyzer::Open(*pack, options);
  if (!analyzer.ok()) {
    spdlog::error("{}", analyzer.status().ToString());
    return nullptr;
  }
  if (device->kind == Device::Kind::kCpu) {
    spdlog::debug("models: {} | {}", (*analyzer)->detector().Describe(), (*analyzer)->embedder().Describe());
  } else {
    spdlog::info("models: {} | {}", (*analyzer)->detector().Describe(), (*analyzer)->embedder().Describe());
  }
  return std::move(analyzer).value();
}

}  // namespace facefill::cli
