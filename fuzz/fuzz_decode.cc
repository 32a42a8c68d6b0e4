// libFuzzer target: arbitrary bytes through the real decode path (sniffing, header guard, every decoder).
#include <cstddef>
#include <cstdint>
#include <span>

#include "facefill/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  facefill::DecodeOptions options;
  options.max_pixels = 4'000'000;               // keep each input cheap; the guard itself is under test
  options.reduce = static_cast<int>(size % 2);  // alternate full and automatic reduced decode
  auto decoded = facefill::DecodeImage(std::span<const uint8_t>(data, size), "fuzz", options);
  if (decoded.ok() && (decoded->bgr.empty() || decoded->bgr.type() != CV_8UC3)) __builtin_trap();
  return 0;
}
