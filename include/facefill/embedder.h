// Face embedding with ArcFace-style recognisers (112x112 aligned crop in, D floats out, L2-normalised).
#pragma once

#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "facefill/face.h"
#include "facefill/runtime.h"
#include "facefill/status.h"

namespace facefill {

struct EmbedderOptions {
  // Input normalisation (p - mean) / std. Unset: detected from the graph as InsightFace's arcface_onnx.py does
  // (a Sub and a Mul among the first 8 nodes: the model normalises itself, mean 0 std 1; else 127.5 / 127.5).
  std::optional<float> input_mean;
  std::optional<float> input_std;
  // Faces per model call when the model's batch dimension is dynamic; models with a fixed batch of 1 get one
  // call per face.
  int max_batch = 32;
  RuntimeOptions runtime;

  Status Validate() const;
};

// Not thread-safe (scratch buffers); Clone() per thread shares the loaded model.
class FaceEmbedder {
 public:
  virtual ~FaceEmbedder() = default;

  // Embeds aligned BGR crops (each input_size() x input_size()). Returns one L2-normalised vector per crop.
  virtual Result<std::vector<Embedding>> Embed(std::span<const cv::Mat> aligned_faces) = 0;

  virtual std::unique_ptr<FaceEmbedder> Clone() const = 0;

  virtual int dimension() const = 0;
  virtual int input_size() const = 0;
  // Faces per model call: max_batch for a dynamic batch dimension, 1 when the model fixes it.
  virtual int batch_limit() const = 0;
  virtual float input_mean() const = 0;
  virtual float input_std() const = 0;
  virtual std::string Describe() const = 0;
};

// Opens a recogniser and checks its contract: one input [B,3,S,S], one output [B,D].
Result<std::unique_ptr<FaceEmbedder>> OpenArcFaceEmbedder(const std::filesystem::path& model_path,
                                                          const EmbedderOptions& options = {});

}  // namespace facefill
