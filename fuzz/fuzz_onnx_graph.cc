// libFuzzer target: arbitrary bytes as an ONNX model, through our graph reader and, when that accepts them, through
// the full model-contract check (ONNX Runtime's loader + detector and recogniser checks): errors, never crashes.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>

#include "facefill/detector.h"
#include "facefill/embedder.h"
#include "inference/onnx_graph.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using facefill::StatusCode;
  auto ops = facefill::inference::ReadLeadingOpTypes(std::span<const uint8_t>(data, size), 8);
  if (!ops.ok()) {
    if (ops.status().code() != StatusCode::kModelError) __builtin_trap();
    return 0;
  }
  static const std::string path = "/tmp/facefill-fuzz-" + std::to_string(getpid()) + ".onnx";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  auto detector = facefill::OpenScrfdDetector(path);
  if (!detector.ok() && detector.status().code() != StatusCode::kModelError) __builtin_trap();
  auto embedder = facefill::OpenArcFaceEmbedder(path);
  if (!embedder.ok() && embedder.status().code() != StatusCode::kModelError) __builtin_trap();
  return 0;
}
