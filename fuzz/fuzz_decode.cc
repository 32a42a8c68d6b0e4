// libFuzzer target: arbitrary bytes through the real decode path (sniffing, header guard, every decoder), and a JPEG
// that decodes through region decode too (libjpeg-turbo's scanline crop and skip).
#include <algorithm>
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
  if (decoded.ok() && decoded->format == facefill::ImageFormat::kJpeg && decoded->width > 1 && decoded->height > 1) {
    // Two regions of the upright image: its top-left quarter and a centred half.
    const int w = decoded->width, h = decoded->height;
    const cv::Rect regions[] = {{0, 0, w / 2, h / 2}, {w / 4, h / 4, std::max(1, w / 2), std::max(1, h / 2)}};
    auto pixels =
        facefill::DecodeJpegRegions(std::span<const uint8_t>(data, size), decoded->orientation, regions, "fuzz");
    if (pixels.ok()) {
      if (pixels->size() != 2) __builtin_trap();
      for (size_t i = 0; i < 2; ++i) {
        const cv::Mat& m = (*pixels)[i];
        if (m.cols != regions[i].width || m.rows != regions[i].height || m.type() != CV_8UC3) __builtin_trap();
      }
    }
  }
  return 0;
}
