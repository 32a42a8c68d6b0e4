// Process- and thread-wide settings for throughput (allocator thresholds, denormal flushing) and peak memory: what
// the command-line tools and the benchmark set up around the pipeline, not part of the library's API.
#pragma once

namespace facefill {

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
