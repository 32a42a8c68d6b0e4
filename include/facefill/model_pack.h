// Model packs: where the detector and recogniser files are, and which kind of detector they hold.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "facefill/status.h"

namespace facefill {

enum class PackKind {
  kInsightFace,  // an SCRFD detector + an ArcFace recogniser (buffalo_*, antelopev2, or any such folder)
  kUltraLight,   // the default pack: Ultra-Light detector + 68-point landmarks + MobileFaceNet
};

struct ModelPack {
  std::filesystem::path directory;
  PackKind kind = PackKind::kInsightFace;
  std::filesystem::path detector;
  std::filesystem::path landmarks;  // kUltraLight only
  std::filesystem::path recognizer;
  // Normalisation the pack documents for its recogniser; unset lets the embedder detect it from the graph.
  std::optional<float> recognizer_mean;
  std::optional<float> recognizer_std;
  // Stable name of the model combination, e.g. "det_10g+w600k_r50"; part of every face id.
  std::string id;
};

struct ModelPackQuery {
  // A pack folder; empty: $FACEFILL_MODELS, then ~/.insightface/models/<buffalo_l|buffalo_m|buffalo_s|...>, then
  // the default pack that scripts/setup.sh installs.
  std::filesystem::path directory;
  // Override single files (e.g. a detector from one pack with the recogniser of another).
  std::filesystem::path detector;
  std::filesystem::path recognizer;
};

// Finds the pack. kNotFound names every place searched; kModelError when a folder is ambiguous.
Result<ModelPack> LocateModelPack(const ModelPackQuery& query = {});

// The folders searched when no directory is given, in order.
std::vector<std::filesystem::path> DefaultModelSearchPath();

}  // namespace facefill
