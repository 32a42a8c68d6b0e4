// How models are run: ONNX Runtime session settings shared by every model facefill opens.
#pragma once

#include "facefill/status.h"

namespace facefill {

struct RuntimeOptions {
  // Threads ONNX Runtime uses inside one model call. 1 lets several pipeline threads each run a call at once.
  int intra_op_threads = 1;
  // Let idle ORT threads spin; off by default because detector and embedder take turns on the same cores.
  bool allow_spinning = false;
  // Use the CUDA execution provider (needs an ONNX Runtime build with it, on a GPU host).
  bool use_cuda = false;

  Status Validate() const;
};

}  // namespace facefill
