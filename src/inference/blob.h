// Image to network input: 8-bit BGR HWC to float RGB NCHW with (p - mean) / std.
#pragma once

#include <opencv2/core.hpp>

namespace facefill::inference {

// Writes 3 planes (R, G, B) of bgr.rows * bgr.cols floats each to `out`.
void BgrToRgbPlanes(const cv::Mat& bgr, float mean, float std, float* out);

}  // namespace facefill::inference
