// EXIF orientation parsing (APP1 "Exif" TIFF IFD0, tag 0x0112) and its pixel transform.
#include "exif_orientation.h"

#include <cstring>
#include <opencv2/core.hpp>

namespace facefill::image_internal {

int ReadJpegExifOrientation(std::span<const uint8_t> jpeg) {
  size_t pos = 2;  // after SOI
  while (pos + 4 <= jpeg.size()) {
    if (jpeg[pos] != 0xFF) return 1;
    uint8_t marker = jpeg[pos + 1];
    if (marker == 0xDA || marker == 0xD9) return 1;  // start of scan / end of image: no EXIF before pixels
    size_t length = (size_t{jpeg[pos + 2]} << 8) | jpeg[pos + 3];
    size_t body = pos + 4;
    if (length < 2 || body + length - 2 > jpeg.size()) return 1;
    if (marker == 0xE1 && length >= 16 && std::memcmp(&jpeg[body], "Exif\0\0", 6) == 0) {
      const uint8_t* tiff = &jpeg[body + 6];
      size_t tiff_size = length - 2 - 6;
      bool little = tiff[0] == 'I';
      auto read = [&](size_t offset, int n) -> uint32_t {
        uint32_t v = 0;
        for (int i = 0; i < n; ++i) {
          uint32_t byte = tiff[offset + (little ? n - 1 - i : i)];
          v = (v << 8) | byte;
        }
        return v;
      };
      size_t ifd = read(4, 4);
      if (ifd + 2 > tiff_size) return 1;
      uint32_t entries = read(ifd, 2);
      for (uint32_t i = 0; i < entries; ++i) {
        size_t entry = ifd + 2 + 12 * i;
        if (entry + 12 > tiff_size) return 1;
        if (read(entry, 2) == 0x0112) {
          uint32_t value = read(entry + 8, 2);
          return value >= 1 && value <= 8 ? static_cast<int>(value) : 1;
        }
      }
      return 1;
    }
    pos = body + length - 2;
  }
  return 1;
}

void ApplyExifOrientation(int orientation, cv::Mat* image) {
  cv::Mat& m = *image;
  switch (orientation) {
    case 2:
      cv::flip(m, m, 1);
      break;
    case 3:
      cv::rotate(m, m, cv::ROTATE_180);
      break;
    case 4:
      cv::flip(m, m, 0);
      break;
    case 5:
      cv::transpose(m, m);
      break;
    case 6:
      cv::rotate(m, m, cv::ROTATE_90_CLOCKWISE);
      break;
    case 7:
      cv::transpose(m, m);
      cv::flip(m, m, -1);
      break;
    case 8:
      cv::rotate(m, m, cv::ROTATE_90_COUNTERCLOCKWISE);
      break;
    default:
      break;
  }
}

}  // namespace facefill::image_internal
