// Process- and thread-wide settings for throughput: allocator thresholds, denormal flushing, peak memory.
#include <malloc.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include <fstream>
#include <string>

#include "process_tuning.h"

namespace facefill {

void TuneAllocatorForLargeBuffers() {
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
}

double PeakResidentMegabytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // reported in kB
  }
  return 0;
}

void FlushDenormalsOnThisThread() {
#if defined(__SSE__)
  _mm_setcsr(_mm_getcsr() | 0x8040);  // FTZ (bit 15) | DAZ (bit 6)
#endif
}

}  // namespace facefill
