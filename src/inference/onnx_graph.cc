// The op types of a model's first nodes, read with ONNX's own protobuf types (Debian's libonnx-dev).
#include "onnx_graph.h"

#include <onnx/onnx_pb.h>

#include <limits>

namespace facefill::inference {

Result<std::vector<std::string>> ReadLeadingOpTypes(std::span<const uint8_t> model_bytes, size_t max_nodes) {
  onnx::ModelProto model;
  if (model_bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
      !model.ParseFromArray(model_bytes.data(), static_cast<int>(model_bytes.size()))) {
    return Status::ModelError("not a well-formed ONNX model (ModelProto)");
  }
  std::vector<std::string> op_types;
  for (const onnx::NodeProto& node : model.graph().node()) {
    if (op_types.size() == max_nodes) break;
    op_types.push_back(node.op_type());
  }
  return op_types;
}

}  // namespace facefill::inference
