// Protobuf wire-format walk over ModelProto (field 7 graph) -> GraphProto (field 1 node) -> NodeProto (field 4
// op_type). Bounds-checked everywhere: arbitrary bytes give kModelError, never a crash.
#include "onnx_graph.h"

#include <optional>

namespace facefill::inference {
namespace {

constexpr uint32_t kModelGraphField = 7;
constexpr uint32_t kGraphNodeField = 1;
constexpr uint32_t kNodeOpTypeField = 4;

struct Field {
  uint32_t number = 0;
  uint32_t wire_type = 0;
  std::span<const uint8_t> payload;  // for length-delimited fields
};

class WireReader {
 public:
  explicit WireReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  bool done() const { return pos_ >= bytes_.size(); }

  // Next field, or nullopt on malformed input.
  std::optional<Field> Next() {
    auto key = Varint();
    if (!key) return std::nullopt;
    Field field{static_cast<uint32_t>(*key >> 3), static_cast<uint32_t>(*key & 7), {}};
    switch (field.wire_type) {
      case 0:
        if (!Varint()) return std::nullopt;
        break;
      case 1:
        if (!Skip(8)) return std::nullopt;
        break;
      case 5:
        if (!Skip(4)) return std::nullopt;
        break;
      case 2: {
        auto length = Varint();
        if (!length || *length > bytes_.size() - pos_) return std::nullopt;
        field.payload = bytes_.subspan(pos_, static_cast<size_t>(*length));
        pos_ += static_cast<size_t>(*length);
        break;
      }
      default:
        return std::nullopt;  // groups are not used by ONNX
    }
    return field;
  }

 private:
  std::optional<uint64_t> Varint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= bytes_.size()) return std::nullopt;
      uint8_t byte = bytes_[pos_++];
      value |= uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) return value;
    }
    return std::nullopt;
  }
  bool Skip(size_t n) {
    if (n > bytes_.size() - pos_) return false;
    pos_ += n;
    return true;
  }

  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

Status Malformed(std::string_view where) {
  return Status(StatusCode::kModelError, "not a valid ONNX model (malformed protobuf in " + std::string(where) + ")");
}

}  // namespace

Result<std::vector<std::string>> ReadLeadingOpTypes(std::span<const uint8_t> model_bytes, size_t max_nodes) {
  std::optional<std::span<const uint8_t>> graph;
  for (WireReader model(model_bytes); !model.done();) {
    auto field = model.Next();
    if (!field) return Malformed("ModelProto");
    if (field->number == kModelGraphField && field->wire_type == 2) graph = field->payload;
  }
  if (!graph) return Status(StatusCode::kModelError, "not a valid ONNX model (no graph)");
  std::vector<std::string> op_types;
  for (WireReader reader(*graph); !reader.done() && op_types.size() < max_nodes;) {
    auto field = reader.Next();
    if (!field) return Malformed("GraphProto");
    if (field->number != kGraphNodeField || field->wire_type != 2) continue;
    std::string op_type;
    for (WireReader node(field->payload); !node.done();) {
      auto node_field = node.Next();
      if (!node_field) return Malformed("NodeProto");
      if (node_field->number == kNodeOpTypeField && node_field->wire_type == 2) {
        op_type.assign(node_field->payload.begin(), node_field->payload.end());
      }
    }
    op_types.push_back(std::move(op_type));
  }
  return op_types;
}

}  // namespace facefill::inference
