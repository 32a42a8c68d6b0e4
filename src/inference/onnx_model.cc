// ONNX Runtime session wrapper: loads a file, records its I/O contract, converts Ort::Exception to Status.
#include "onnx_model.h"

#include <fstream>
#include <iterator>

#include "execution_device.h"
#include "onnx_graph.h"

namespace facefill::inference {
namespace {

// The process-wide ONNX Runtime environment (logging and thread pools); created on first use.
Ort::Env& Environment() {
  static Ort::Env env(ORT_LOGGING_LEVEL_ERROR, "facefill");
  return env;
}

constexpr size_t kLeadingNodes = 8;  // InsightFace's arcface_onnx.py looks at the first 8 nodes

std::vector<TensorInfo> ReadTensorInfos(const Ort::Session& session, bool inputs) {
  Ort::AllocatorWithDefaultOptions allocator;
  size_t count = inputs ? session.GetInputCount() : session.GetOutputCount();
  std::vector<TensorInfo> infos;
  for (size_t i = 0; i < count; ++i) {
    TensorInfo info;
    info.name =
        (inputs ? session.GetInputNameAllocated(i, allocator) : session.GetOutputNameAllocated(i, allocator)).get();
    Ort::TypeInfo type = inputs ? session.GetInputTypeInfo(i) : session.GetOutputTypeInfo(i);
    if (type.GetONNXType() == ONNX_TYPE_TENSOR) {
      auto tensor = type.GetTensorTypeAndShapeInfo();
      info.shape = tensor.GetShape();
      info.is_float = tensor.GetElementType() == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
    }
    infos.push_back(std::move(info));
  }
  return infos;
}

}  // namespace

Result<std::shared_ptr<OnnxModel>> OnnxModel::Open(const std::filesystem::path& path, const RuntimeOptions& options) {
  FACEFILL_RETURN_IF_ERROR(options.Validate());
  const std::string name = path.string();
  std::ifstream file(path, std::ios::binary);
  if (!file) return Status(StatusCode::kModelError, name + ": model file not found or not readable");
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (bytes.empty()) return Status(StatusCode::kModelError, name + ": model file is empty");

  auto op_types = ReadLeadingOpTypes(bytes, kLeadingNodes);
  if (!op_types.ok()) return Status(StatusCode::kModelError, name + ": " + op_types.status().message());

  std::shared_ptr<OnnxModel> model(new OnnxModel());
  model->path_ = path;
  model->leading_op_types_ = std::move(op_types).value();
  try {
    Ort::SessionOptions session_options;
    session_options.SetIntraOpNumThreads(options.intra_op_threads);
    session_options.SetInterOpNumThreads(1);
    session_options.SetExecutionMode(ORT_SEQUENTIAL);
    session_options.SetGraphOptimizationLevel(GraphOptimizationLevel::ORT_ENABLE_ALL);
    session_options.AddConfigEntry("session.intra_op.allow_spinning", options.allow_spinning ? "1" : "0");
    auto device = ConfigureDevice(options, &session_options);
    if (!device.ok()) return device.status();
    model->device_ = *device;
    model->session_ = std::make_unique<Ort::Session>(Environment(), bytes.data(), bytes.size(), session_options);
    model->io_binding_ = options.io_binding;
    model->inputs_ = ReadTensorInfos(*model->session_, true);
    model->outputs_ = ReadTensorInfos(*model->session_, false);
  } catch (const Ort::Exception& e) {
    return Status(StatusCode::kModelError, name + ": ONNX Runtime cannot load it: " + e.what());
  }
  if (model->io_binding_ && model->device_.kind == Device::Kind::kCuda) {
    try {
      model->pinned_memory_ = std::make_unique<Ort::MemoryInfo>("CudaPinned", OrtDeviceAllocator, model->device_.index,
                                                                OrtMemTypeCPUOutput);
      model->pinned_allocator_ = std::make_unique<Ort::Allocator>(*model->session_, *model->pinned_memory_);
    } catch (const Ort::Exception& e) {
      return Status(StatusCode::kDeviceError, name + ": no pinned host memory for the IoBinding on " +
                                                  model->device_.ToString() + ": " + e.what());
    }
  }
  for (const auto& info : model->inputs_) model->input_names_.push_back(info.name.c_str());
  for (const auto& info : model->outputs_) model->output_names_.push_back(info.name.c_str());
  if (model->inputs_.size() != 1 || !model->inputs_[0].is_float) {
    return Status(StatusCode::kModelError, name + ": expected exactly one float input, found " +
                                               std::to_string(model->inputs_.size()) + " inputs");
  }
  return model;
}

InputBuffer OnnxModel::NewInputBuffer() const {
  if (!pinned_allocator_) return InputBuffer();
  return InputBuffer(*pinned_allocator_, *pinned_memory_);
}

Status OnnxModel::Run(const InputBuffer& input, const std::vector<int64_t>& input_shape,
                      std::vector<Ort::Value>* outputs) const {
  try {
    size_t count = 1;
    for (int64_t d : input_shape) count *= static_cast<size_t>(d);
    if (count > input.size()) return Status::Internal("model input shape larger than its buffer");
    const OrtMemoryInfo* memory =
        input.memory_info() ? input.memory_info() : static_cast<const OrtMemoryInfo*>(cpu_memory_);
    Ort::Value tensor = Ort::Value::CreateTensor<float>(memory, const_cast<float*>(input.data()), count,
                                                        input_shape.data(), input_shape.size());
    if (!io_binding_) {
      *outputs = session_->Run(Ort::RunOptions{nullptr}, input_names_.data(), &tensor, 1, output_names_.data(),
                               output_names_.size());
      return Status::Ok();
    }
    // One binding per call (a binding is not thread-safe and the model is shared); outputs come back to the CPU.
    Ort::IoBinding binding(*session_);
    binding.BindInput(input_names_[0], tensor);
    for (const char* name : output_names_) binding.BindOutput(name, cpu_memory_);
    session_->Run(Ort::RunOptions{nullptr}, binding);
    *outputs = binding.GetOutputValues();
  } catch (const Ort::Exception& e) {
    return Status(StatusCode::kInferenceError, path_.filename().string() + ": " + e.what());
  }
  return Status::Ok();
}

OutputTensor OnnxModel::View(const Ort::Value& value) {
  auto info = value.GetTensorTypeAndShapeInfo();
  return OutputTensor{info.GetShape(), value.GetTensorData<float>(), info.GetElementCount()};
}

}  // namespace facefill::inference
