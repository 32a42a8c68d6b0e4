// `models batchify`: turns a model whose batch is fixed at 1 into one with a dynamic batch, proven equivalent.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "facefill/runtime.h"
#include "facefill/status.h"

namespace facefill {

struct BatchifyOptions {
  // Photos (files, or folders searched recursively) for the check; the first verify_batch that decode are used.
  std::vector<std::filesystem::path> sample_images;
  // Images run together in the check.
  int verify_batch = 4;
  // Largest absolute difference allowed between an image's outputs inside the batch and run alone.
  float tolerance = 1e-5f;
  // Input sizes (width, height) checked when the model leaves height and width dynamic: the detector's default
  // square and the tight 4:3 input.
  std::vector<std::pair<int, int>> dynamic_sizes = {{640, 640}, {640, 480}};
  RuntimeOptions runtime;

  Status Validate() const;
};

struct BatchifyReport {
  std::vector<std::string> changes;           // one line per rewritten input, Reshape target and output
  std::vector<std::string> verified_sizes;    // "640x480"
  std::vector<std::filesystem::path> images;  // the photos the check ran on
  int verified_batch = 0;
  double largest_difference = 0;  // over every output element of every image and size
};

// Rewrites `in` (ArcFace-style recognisers; SCRFD exports whose Reshapes flatten the batch, whose outputs then
// become [batch, N, C]), runs the result at verify_batch on real photos, and writes `out` only when every image's
// outputs equal those of the original model run on that image alone, within the tolerance. Errors (kModelError
// for a model it cannot rewrite or that fails the check, kNotFound / kInvalidArgument for the photos) leave
// `out` untouched.
Result<BatchifyReport> BatchifyModel(const std::filesystem::path& in, const std::filesystem::path& out,
                                     const BatchifyOptions& options);

}  // namespace facefill
