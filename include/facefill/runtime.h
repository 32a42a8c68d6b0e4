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

// Makes glibc keep and reuse freed large blocks instead of returning them to the kernel (mmap threshold and trim
// threshold raised), so each full-size image buffer is not a fresh mapping whose pages fault in on first touch —
// on virtual machines that costs about as much as decoding the JPEG. Process-wide; call before the work starts.
void TuneAllocatorForLargeBuffers();

// Peak resident memory of this process in MB (VmHWM; reset by exec, unlike getrusage's ru_maxrss), or 0.
double PeakResidentMegabytes();

// Flushes denormal floats to zero on the calling thread (FTZ/DAZ): about 8% faster embedding on x86 CPUs, with no
// measurable effect on results. ONNX Runtime's own session option does not reach threads it does not own.
void FlushDenormalsOnThisThread();

}  // namespace facefill
