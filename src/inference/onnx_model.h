// A loaded ONNX model: one ONNX Runtime session, its input/output contract, and typed errors at the edge.
#pragma once

#include <onnxruntime_cxx_api.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "facefill/runtime.h"
#include "facefill/status.h"
#include "input_buffer.h"

namespace facefill::inference {

// Shape of one input or output as declared by the graph; -1 for a dynamic dimension.
struct TensorInfo {
  std::string name;
  std::vector<int64_t> shape;
  bool is_float = false;
};

// A tensor returned by Run: shape and a copy-free view of its floats (valid while the OrtValue lives).
struct OutputTensor {
  std::vector<int64_t> shape;
  const float* data = nullptr;
  size_t count = 0;
};

// Thread-safe: Run may be called from several threads at once (ONNX Runtime sessions allow concurrent Run).
class OnnxModel {
 public:
  // Loads a model file. Errors (kModelError) name the file and what is wrong with it.
  static Result<std::shared_ptr<OnnxModel>> Open(const std::filesystem::path& path, const RuntimeOptions& options);

  const std::filesystem::path& path() const { return path_; }
  // Where the session runs (options.device with kAuto resolved).
  const Device& device() const { return device_; }
  const std::vector<TensorInfo>& inputs() const { return inputs_; }
  const std::vector<TensorInfo>& outputs() const { return outputs_; }
  // Op types of the first nodes of the graph, in order (read from the file; see onnx_graph.h).
  const std::vector<std::string>& leading_op_types() const { return leading_op_types_; }

  // A buffer for this model's input: pinned host memory when the model runs on CUDA through an IoBinding.
  InputBuffer NewInputBuffer() const;

  // Runs the model on one float input (NCHW, a buffer from NewInputBuffer). `outputs` receives every output in graph
  // order, in CPU memory. With RuntimeOptions::io_binding the call goes through an IoBinding.
  Status Run(const InputBuffer& input, const std::vector<int64_t>& input_shape, std::vector<Ort::Value>* outputs) const;

  // Views a float output returned by Run.
  static OutputTensor View(const Ort::Value& value);

 private:
  OnnxModel() = default;

  std::filesystem::path path_;
  Device device_;
  std::unique_ptr<Ort::Session> session_;
  bool io_binding_ = false;
  Ort::MemoryInfo cpu_memory_ = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  // CUDA with io_binding: the provider's page-locked host memory for inputs.
  std::unique_ptr<Ort::MemoryInfo> pinned_memory_;
  std::unique_ptr<Ort::Allocator> pinned_allocator_;
  std::vector<TensorInfo> inputs_;
  std::vector<TensorInfo> outputs_;
  std::vector<std::string> leading_op_types_;
  std::vector<const char*> input_names_;
  std::vector<const char*> output_names_;
};

}  // namespace facefill::inference
