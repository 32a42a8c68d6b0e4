// Rewrites a fixed-batch ONNX graph into a dynamic-batch one with ONNX's own protobuf types and shape inference.
#include "batch_rewrite.h"

#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cstring>
#include <map>
#include <set>

namespace facefill::models {
namespace {

constexpr const char* kBatchSymbol = "batch";

Status Refuse(const std::string& name, const std::string& why) {
  return Status::ModelError(name + ": cannot make the batch dynamic: " + why);
}

// The int64 values of a constant tensor (raw_data or int64_data), or nothing when it is not an int64 tensor.
bool ReadInt64s(const onnx::TensorProto& tensor, std::vector<int64_t>* values) {
  if (tensor.data_type() != onnx::TensorProto::INT64) return false;
  values->clear();
  if (!tensor.raw_data().empty()) {
    const std::string& raw = tensor.raw_data();
    if (raw.size() % sizeof(int64_t) != 0) return false;
    values->resize(raw.size() / sizeof(int64_t));
    std::memcpy(values->data(), raw.data(), raw.size());
  } else {
    values->assign(tensor.int64_data().begin(), tensor.int64_data().end());
  }
  return true;
}

std::string Join(const std::vector<int64_t>& values) {
  std::string s = "(";
  for (size_t i = 0; i < values.size(); ++i) s += (i > 0 ? ", " : "") + std::to_string(values[i]);
  return s + ")";
}

// The batch-keeping form of a Reshape target, or the same values when the target already keeps it or cannot
// be about the batch. (-1, C...) flattens the batch into the first axis; (1, ...) pins it to one image.
std::vector<int64_t> BatchKeepingTarget(const std::vector<int64_t>& target) {
  if (target.size() >= 2 && target[0] == -1) {
    std::vector<int64_t> kept{0};
    kept.insert(kept.end(), target.begin(), target.end());
    return kept;
  }
  if (!target.empty() && target[0] == 1) {
    std::vector<int64_t> kept = target;
    kept[0] = 0;
    return kept;
  }
  return target;
}

void SetDimToBatch(onnx::TensorShapeProto_Dimension* dim) {
  dim->clear_dim_value();
  dim->set_dim_param(kBatchSymbol);
}

}  // namespace

Result<BatchRewrite> RewriteBatchDimension(const std::string& model_bytes, const std::string& name) {
  onnx::ModelProto model;
  if (model_bytes.empty() || !model.ParseFromString(model_bytes) || !model.has_graph()) {
    return Refuse(name, "not a readable ONNX model (truncated or another kind of file)");
  }
  if (model.ir_version() < 4) {
    return Refuse(name, "IR version " + std::to_string(model.ir_version()) + " (before 4) is not supported");
  }
  onnx::GraphProto* graph = model.mutable_graph();
  BatchRewrite rewrite;

  std::set<std::string> initializer_names;
  for (const auto& init : graph->initializer()) initializer_names.insert(init.name());
  onnx::ValueInfoProto* image_input = nullptr;
  int real_inputs = 0;
  for (auto& input : *graph->mutable_input()) {
    if (initializer_names.count(input.name()) > 0) continue;
    ++real_inputs;
    image_input = &input;
  }
  if (real_inputs != 1) return Refuse(name, std::to_string(real_inputs) + " inputs (expected one image input)");
  const auto& input_type = image_input->type();
  if (!input_type.has_tensor_type() || input_type.tensor_type().elem_type() != onnx::TensorProto::FLOAT ||
      input_type.tensor_type().shape().dim_size() != 4) {
    return Refuse(name, "input '" + image_input->name() + "' is not a float [N,C,H,W] tensor");
  }
  auto* batch_dim = image_input->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(0);
  if (batch_dim->has_dim_value() && batch_dim->dim_value() != 1) {
    return Refuse(name, "input batch is fixed at " + std::to_string(batch_dim->dim_value()) + " (expected 1)");
  }
  if (batch_dim->has_dim_value()) {
    rewrite.changes.push_back("input '" + image_input->name() + "': batch 1 -> batch");
  } else {
    rewrite.changes.push_back("input '" + image_input->name() + "': batch already dynamic");
  }
  SetDimToBatch(batch_dim);

  // Constant Reshape targets: initializers, or outputs of Constant nodes.
  std::map<std::string, const onnx::TensorProto*> constants;
  for (const auto& init : graph->initializer()) constants[init.name()] = &init;
  for (const auto& node : graph->node()) {
    if (node.op_type() != "Constant" || node.output_size() != 1) continue;
    for (const auto& attribute : node.attribute()) {
      if (attribute.name() == "value" && attribute.has_t()) constants[node.output(0)] = &attribute.t();
    }
  }
  // SCRFD's heads flatten with permute(2, 3, 0, 1).reshape(-1, C): the batch axis sits third when the Reshape
  // runs. Moving it to the front of that Transpose keeps each image's values in the same order (a size-1 axis moves
  // nothing in memory), so (0, -1, C) can then keep the batch.
  std::map<std::string, onnx::NodeProto*> producers;
  std::map<std::string, int> consumers;
  for (auto& node : *graph->mutable_node()) {
    for (const auto& output : node.output()) producers[output] = &node;
    for (const auto& input : node.input()) ++consumers[input];
  }
  for (const auto& output : graph->output()) ++consumers[output.name()];
  auto batch_first_transpose = [&](const std::string& value) {
    auto producer = producers.find(value);
    if (producer == producers.end() || producer->second->op_type() != "Transpose" || consumers[value] != 1) return;
    for (auto& attribute : *producer->second->mutable_attribute()) {
      if (attribute.name() != "perm" || attribute.ints_size() == 0 || attribute.ints(0) == 0) continue;
      std::vector<int64_t> perm(attribute.ints().begin(), attribute.ints().end());
      std::vector<int64_t> batch_first{0};
      for (int64_t axis : perm) {
        if (axis != 0) batch_first.push_back(axis);
      }
      attribute.clear_ints();
      for (int64_t axis : batch_first) attribute.add_ints(axis);
      rewrite.changes.push_back("Transpose '" + producer->second->name() + "': perm " + Join(perm) + " -> " +
                                Join(batch_first));
    }
  };
  // Each rewritten target becomes a new initializer, so a target shared with other consumers stays as it was.
  std::map<std::string, std::string> rewritten_names;
  std::vector<onnx::TensorProto> new_initializers;
  for (auto& node : *graph->mutable_node()) {
    if (node.op_type() != "Reshape" || node.input_size() < 2) continue;
    auto constant = constants.find(node.input(1));
    if (constant == constants.end()) continue;  // computed from Shape: follows the batch already
    std::vector<int64_t> target;
    if (!ReadInt64s(*constant->second, &target)) continue;
    const std::vector<int64_t> kept = BatchKeepingTarget(target);
    if (kept == target) continue;
    auto done = rewritten_names.find(node.input(1));
    if (done == rewritten_names.end()) {
      onnx::TensorProto tensor;
      tensor.set_name(node.input(1) + "_" + kBatchSymbol);
      tensor.set_data_type(onnx::TensorProto::INT64);
      tensor.add_dims(static_cast<int64_t>(kept.size()));
      tensor.set_raw_data(std::string(reinterpret_cast<const char*>(kept.data()), kept.size() * sizeof(int64_t)));
      done = rewritten_names.emplace(node.input(1), tensor.name()).first;
      new_initializers.push_back(std::move(tensor));
    }
    if (target[0] == -1) batch_first_transpose(node.input(0));
    rewrite.changes.push_back("Reshape '" + node.name() + "': target " + Join(target) + " -> " + Join(kept));
    node.set_input(1, done->second);
  }
  for (auto& tensor : new_initializers) *graph->add_initializer() = std::move(tensor);

  // Shapes recorded by the exporter hold the fixed batch (and the flattened outputs' old rank): drop them and let
  // ONNX shape inference derive them again from the new input and targets.
  graph->clear_value_info();
  for (auto& output : *graph->mutable_output()) {
    if (output.type().has_tensor_type()) output.mutable_type()->mutable_tensor_type()->clear_shape();
  }
  try {
    onnx::shape_inference::InferShapes(model);
  } catch (const std::exception& e) {
    return Refuse(name, std::string("shape inference failed on the rewritten graph: ") + e.what());
  }
  // Shape inference names the dimensions it cannot follow (past a Resize whose sizes come from Shape) "unk__N":
  // leave those unnamed. Every output's dimension 0 is the batch (the verification checks it).
  auto clear_generated_names = [](onnx::TypeProto* type) {
    if (!type->has_tensor_type()) return;
    for (auto& dim : *type->mutable_tensor_type()->mutable_shape()->mutable_dim()) {
      if (dim.has_dim_param() && dim.dim_param().rfind("unk__", 0) == 0) dim.clear_dim_param();
    }
  };
  for (auto& info : *graph->mutable_value_info()) clear_generated_names(info.mutable_type());
  std::map<std::string, const onnx::ValueInfoProto*> inferred;
  for (const auto& info : graph->value_info()) inferred[info.name()] = &info;
  for (auto& output : *graph->mutable_output()) {
    auto* tensor_type = output.mutable_type()->mutable_tensor_type();
    if (!tensor_type->has_shape()) {
      if (auto found = inferred.find(output.name());
          found != inferred.end() && found->second->type().has_tensor_type()) {
        *tensor_type->mutable_shape() = found->second->type().tensor_type().shape();
      }
    }
    clear_generated_names(output.mutable_type());
    if (tensor_type->shape().dim_size() > 0) SetDimToBatch(tensor_type->mutable_shape()->mutable_dim(0));
    std::string dims;
    for (const auto& dim : tensor_type->shape().dim()) {
      dims += (dims.empty() ? "" : ",") + (dim.has_dim_value()   ? std::to_string(dim.dim_value())
                                           : dim.has_dim_param() ? dim.dim_param()
                                                                 : "?");
    }
    rewrite.changes.push_back("output '" + output.name() + "': [" + dims + "]");
  }
  if (!model.SerializeToString(&rewrite.model_bytes)) return Refuse(name, "the rewritten model cannot be serialised");
  return rewrite;
}

}  // namespace facefill::models
