// BGR HWC uint8 -> RGB NCHW float conversion used by every model input.
#include "blob.h"

namespace facefill::inference {

void BgrToRgbPlanes(const cv::Mat& bgr, float mean, float std, float* out) {
  const int rows = bgr.rows, cols = bgr.cols;
  const size_t plane = static_cast<size_t>(rows) * cols;
  float* r = out;
  float* g = out + plane;
  float* b = out + 2 * plane;
  const float scale = 1.0f / std;
  for (int y = 0; y < rows; ++y) {
    const uint8_t* p = bgr.ptr<uint8_t>(y);
    for (int x = 0; x < cols; ++x, p += 3) {
      *b++ = (static_cast<float>(p[0]) - mean) * scale;
      *g++ = (static_cast<float>(p[1]) - mean) * scale;
      *r++ = (static_cast<float>(p[2]) - mean) * scale;
    }
  }
}

}  // namespace facefill::inference
