// The op types of a graph's first nodes, which InsightFace uses to decide whether a recogniser normalises its input
// itself. ONNX Runtime's API does not expose graph nodes, so the file is read with ONNX's protobuf types.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "facefill/status.h"

namespace facefill::inference {

// Op types of the first `max_nodes` nodes of ModelProto.graph, in file order. kModelError when the bytes are not
// a well-formed ModelProto.
Result<std::vector<std::string>> ReadLeadingOpTypes(std::span<const uint8_t> model_bytes, size_t max_nodes);

}  // namespace facefill::inference
