// EXIF orientation: read the tag from a JPEG's APP1 segment and turn pixels upright.
#pragma once

#include <cstdint>
#include <opencv2/core.hpp>
#include <span>

namespace facefill::image_internal {

// The EXIF Orientation tag (1..8) of a JPEG, or 1 when absent or unreadable.
int ReadJpegExifOrientation(std::span<const uint8_t> jpeg);

// Applies an EXIF orientation (1..8) in place.
void ApplyExifOrientation(int orientation, cv::Mat* image);

// True when the orientation swaps width and height (5..8).
inline bool OrientationSwapsAxes(int orientation) { return orientation >= 5 && orientation <= 8; }

}  // namespace facefill::image_internal
