// JPEG region decode helpers shared inside the image library: which JPEGs decode region by region, and the mapping
// of upright rectangles to the stored (pre-EXIF-orientation) image.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <span>

namespace facefill::image_internal {

// True when libjpeg-turbo can decode this JPEG's rows and columns to BGR on their own: 8-bit samples in greyscale,
// YCbCr or RGB (not CMYK/YCCK). False for anything it cannot parse.
bool JpegDecodesByRegion(std::span<const uint8_t> jpeg);

// The rectangle of the stored image (`stored_width` x `stored_height`, before EXIF orientation) whose pixels,
// once `orientation` (1..8) is applied, are exactly `upright` of the upright image.
cv::Rect StoredRect(const cv::Rect& upright, int orientation, int stored_width, int stored_height);

}  // namespace facefill::image_internal
