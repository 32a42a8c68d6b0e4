// Command-line flags that choose and tune the models, shared by every subcommand that runs them.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

#include "facefill/analyzer.h"

namespace facefill::cli {

struct ModelFlags {
  std::string models_dir;
  std::string detector;
  std::string recognizer;
  float score_threshold = 0.5f;
  int max_faces = 1000;        // per image; the largest and most central are kept
  int threads = -1;            // -1: auto (see EffectiveThreads)
  std::string device = "cpu";  // cpu, cuda, cuda:N or auto (Device::Parse)
  bool tight_input = false;
  bool io_binding = false;
};

// The flags that choose the pack and its files (--models, --detector, --recognizer); AddModelFlags adds them too.
void AddPackFlags(CLI::App* app, ModelFlags* flags);
void AddModelFlags(CLI::App* app, ModelFlags* flags);
// --max-faces, for the commands that store or print every face of an image (detect, backfill, worker).
void AddMaxFacesFlag(CLI::App* app, ModelFlags* flags);

// Locates the pack and opens a FaceAnalyzer with `threads` intra-op threads per model call (0: ONNX Runtime's
// default, all cores); prints the error and returns null on failure.
std::unique_ptr<FaceAnalyzer> OpenAnalyzer(const ModelFlags& flags, int threads);

// The pack the flags choose, without loading it; prints the error and returns none on failure.
std::optional<ModelPack> LocatePack(const ModelFlags& flags);

// The id of the pack the flags choose, without loading it; prints the error and returns "" on failure.
std::string LocatePackId(const ModelFlags& flags);

}  // namespace facefill::cli
