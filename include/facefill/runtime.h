// How models are run: ONNX Runtime session settings shared by every model facefill opens.
#pragma once

#include <string>
#include <string_view>

#include "facefill/status.h"

namespace facefill {

// Where models run. kAuto uses CUDA device 0 when it can and otherwise the CPU, saying why.
struct Device {
  enum class Kind { kCpu, kCuda, kAuto };
  Kind kind = Kind::kCpu;
  int index = 0;  // the CUDA device (cuda:N)

  // "cpu", "cuda", "cuda:N" or "auto".
  static Result<Device> Parse(std::string_view text);
  std::string ToString() const;
};

// CUDA execution provider settings that matter for throughput.
struct CudaOptions {
  // cuDNN convolution algorithm search: "EXHAUSTIVE" (best kernels, slower first call), "HEURISTIC" or "DEFAULT".
  std::string conv_algo_search = "EXHAUSTIVE";
  bool prefer_nhwc = true;  // channels-last kernels where cuDNN has faster ones
  bool use_tf32 = true;     // TF32 tensor cores for float32 matrix products (Ampere and newer)
  // Grow the device memory arena by what each request needs rather than doubling it.
  bool arena_same_as_requested = true;
};

struct RuntimeOptions {
  // Threads ONNX Runtime uses inside one model call. 1 lets several pipeline threads each run a call at once.
  int intra_op_threads = 1;
  // Let idle ORT threads spin; off by default because detector and embedder take turns on the same cores.
  bool allow_spinning = false;
  // Where to run: the CPU, or ONNX Runtime's CUDA execution provider (needs `scripts/setup.sh --gpu` and CUDA 13,
  // cuDNN 9 and a driver >= 580 on the host). A device that cannot be used is an error naming the cause, never a
  // silent fall-back; only Device::Kind::kAuto falls back.
  Device device;
  CudaOptions cuda;
  // Run each model call through an ONNX Runtime IoBinding: on CUDA the input is written into page-locked host memory
  // (one DMA upload per call) and outputs are bound to host memory; on the CPU it changes nothing but the call path.
  bool io_binding = false;

  Status Validate() const;
};

}  // namespace facefill
