// Which ONNX Runtime execution provider a session uses: the CPU, or CUDA after checking that it can be used.
#pragma once

#include <onnxruntime_cxx_api.h>

#include "facefill/runtime.h"
#include "facefill/status.h"

namespace facefill::inference {

// OK when CUDA device `index` can be used with the ONNX Runtime this process loaded; otherwise kDeviceError naming
// the first cause found: a CPU-only ONNX Runtime build, the provider file missing beside it, a CUDA / cuBLAS /
// cuRAND / cuDNN library or the driver missing, or no such device.
Status CheckCudaUsable(int index);

// Sets up `session_options` for options.device and returns the device the session will run on: kAuto becomes
// cuda:0 when CheckCudaUsable(0) passes, else the CPU (said once per process in the log). kCuda that cannot be used
// is an error, never a CPU session.
Result<Device> ConfigureDevice(const RuntimeOptions& options, Ort::SessionOptions* session_options);

}  // namespace facefill::inference
