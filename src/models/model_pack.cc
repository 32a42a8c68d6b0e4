// Model pack discovery: explicit folder, FACEFILL_MODELS, ~/.insightface/models/<pack>, the setup's default pack.
#include "facefill/model_pack.h"

#include <algorithm>
#include <cstdlib>

#ifndef FACEFILL_DEFAULT_MODELS_DIR
#define FACEFILL_DEFAULT_MODELS_DIR ""
#endif

namespace facefill {
namespace {

namespace fs = std::filesystem;

// Files of the default (faceplugin) pack.
constexpr const char* kUltraLightDetector = "fr_detect.onnx";
constexpr const char* kUltraLightLandmarks = "fr_landmark.onnx";
constexpr const char* kUltraLightRecognizer = "fr_feature.onnx";
// InsightFace pack members that are neither detector nor recogniser.
const std::vector<std::string> kAuxiliaryModels = {"1k3d68",      "2d106det",     "genderage", "fr_landmark",
                                                   "fr_age",      "fr_gender",    "fr_eye",    "fr_pose",
                                                   "fr_liveness", "fr_expression"};

bool IsDetectorName(const std::string& stem) {
  return stem.rfind("det_", 0) == 0 || stem.find("scrfd") != std::string::npos || stem == "fr_detect";
}

std::string Stem(const fs::path& p) { return p.stem().string(); }

std::vector<fs::path> OnnxFiles(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".onnx") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

Result<ModelPack> PackFromDirectory(const fs::path& dir, const ModelPackQuery& query) {
  ModelPack pack;
  pack.directory = dir;
  if (fs::exists(dir / kUltraLightDetector) && fs::exists(dir / kUltraLightLandmarks) && query.detector.empty()) {
    pack.kind = PackKind::kUltraLight;
    pack.detector = dir / kUltraLightDetector;
    pack.landmarks = dir / kUltraLightLandmarks;
    pack.recognizer = dir / kUltraLightRecognizer;
  } else {
    const auto files = OnnxFiles(dir);
    if (files.empty() && (query.detector.empty() || query.recognizer.empty())) {
      return Status(StatusCode::kModelError,
                    dir.string() +
                        ": no .onnx model files here; leave --models out to use the default pack (installed "
                        "by scripts/setup.sh), or give a folder with a detector and a recogniser");
    }
    std::vector<fs::path> detectors, recognizers;
    for (const auto& file : files) {
      const std::string stem = Stem(file);
      if (std::find(kAuxiliaryModels.begin(), kAuxiliaryModels.end(), stem) != kAuxiliaryModels.end()) continue;
      (IsDetectorName(stem) ? detectors : recognizers).push_back(file);
    }
    if (query.detector.empty()) {
      if (detectors.size() != 1) {
        return Status(StatusCode::kModelError, dir.string() +
                                                   ": expected one detector (det_*.onnx or *scrfd*.onnx), found " +
                                                   std::to_string(detectors.size()) + "; choose one with --detector");
      }
      pack.detector = detectors[0];
    }
    if (query.recognizer.empty()) {
      if (recognizers.size() != 1) {
        return Status(StatusCode::kModelError, dir.string() + ": expected one recogniser .onnx, found " +
                                                   std::to_string(recognizers.size()) +
                                                   "; choose one with --recognizer");
      }
      pack.recognizer = recognizers[0];
    }
  }
  return pack;
}

}  // namespace

std::vector<fs::path> DefaultModelSearchPath() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("FACEFILL_MODELS"); env != nullptr && *env != '\0') dirs.emplace_back(env);
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    for (const char* name : {"buffalo_l", "buffalo_m", "buffalo_s", "buffalo_sc", "antelopev2"}) {
      dirs.push_back(fs::path(home) / ".insightface" / "models" / name);
    }
  }
  if (std::string(FACEFILL_DEFAULT_MODELS_DIR).size() > 0) dirs.emplace_back(FACEFILL_DEFAULT_MODELS_DIR);
  return dirs;
}

Result<ModelPack> LocateModelPack(const ModelPackQuery& query) {
  std::vector<fs::path> candidates;
  if (!query.directory.empty()) {
    candidates.push_back(query.directory);
  } else if (!query.detector.empty() && !query.recognizer.empty()) {
    candidates.push_back(query.detector.parent_path());
  } else {
    candidates = DefaultModelSearchPath();
  }
  std::string searched;
  for (const auto& dir : candidates) {
    std::error_code ec;
    const bool usable = fs::is_directory(dir, ec) || (!query.detector.empty() && !query.recognizer.empty());
    if (!usable) {
      searched += (searched.empty() ? "" : ", ") + dir.string();
      continue;
    }
    auto pack = PackFromDirectory(dir, query);
    if (!pack.ok()) return pack.status();
    if (!query.detector.empty()) {
      pack->detector = query.detector;
      pack->kind = PackKind::kInsightFace;
      pack->landmarks.clear();
    }
    if (!query.recognizer.empty()) pack->recognizer = query.recognizer;
    if (pack->recognizer.filename() == kUltraLightRecognizer) {
      // The default pack's own code feeds RGB (p - 127) / 128 (lib/fr_feature.js preprocessFeature); its graph
      // has no normalisation nodes, so InsightFace's rule would guess 127.5 / 127.5.
      pack->recognizer_mean = 127.0f;
      pack->recognizer_std = 128.0f;
    }
    for (const auto* file : {&pack->detector, &pack->landmarks, &pack->recognizer}) {
      if (!file->empty() && !fs::exists(*file)) {
        return Status(StatusCode::kNotFound, file->string() + ": model file not found");
      }
    }
    pack->id = Stem(pack->detector) + "+" + Stem(pack->recognizer);
    return pack;
  }
  return Status(StatusCode::kNotFound,
                "no model pack found (searched " + searched +
                    "); run scripts/setup.sh for the default pack, or pass --models DIR / set FACEFILL_MODELS");
}

}  // namespace facefill
