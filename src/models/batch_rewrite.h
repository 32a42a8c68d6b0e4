// Graph-level rewrite of an ONNX model's fixed batch of 1 into a symbolic "batch" dimension (no inference here;
// model_batchify.cc verifies the result with ONNX Runtime before anything is written).
#pragma once

#include <string>
#include <vector>

#include "facefill/status.h"

namespace facefill::models {

struct BatchRewrite {
  std::string model_bytes;           // the rewritten ModelProto, serialised
  std::vector<std::string> changes;  // what was changed, one line each, for the report
};

// Makes the one image input's dimension 0 the symbol "batch", turns Reshape targets that flatten the batch away
// into ones that keep it ((-1, C) becomes (0, -1, C); (1, ...) becomes (0, ...)), and re-derives value_info and
// output shapes with ONNX shape inference. kModelError names the file and the reason when the bytes are not a
// model this can rewrite (not an ONNX model, several or non-image inputs, a batch fixed above 1).
Result<BatchRewrite> RewriteBatchDimension(const std::string& model_bytes, const std::string& name);

}  // namespace facefill::models
