// Landmark crop of an Ultra-Light face, mirroring faceplugin-face-recognition-js lib/fr_landmark.js
// alignLandmarkImage (scale 1), with tiny and non-finite boxes refused.
#include "landmark_crop.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace facefill::detect {

Result<cv::Rect> LandmarkCrop(const BoxF& box, int image_width, int image_height) {
  if (!std::isfinite(box.x1) || !std::isfinite(box.y1) || !std::isfinite(box.x2) || !std::isfinite(box.y2)) {
    return Status::InvalidArgument("face box is not finite: no landmarks can be found");
  }
  auto too_small = [&](double w, double h) {
    return Status::InvalidArgument(
        fmt::format("face crop {:.1f}x{:.1f} px at ({:.1f}, {:.1f}) is under {} px: too "
                    "small for the landmark model",
                    w, h, box.x1, box.y1, kMinLandmarkCropPixels));
  };
  if (!(box.width() >= kMinLandmarkCropPixels && box.height() >= kMinLandmarkCropPixels)) {
    return too_small(box.width(), box.height());
  }
  const int x1 = static_cast<int>(box.x1), y1 = static_cast<int>(box.y1);
  const int box_w = static_cast<int>(box.x2) - x1, box_h = static_cast<int>(box.y2) - y1;
  const double scale = std::min({(image_height - 1.0) / box_h, (image_width - 1.0) / box_w, 1.0});
  const double new_w = box_w * scale, new_h = box_h * scale;
  const double cx = box_w / 2.0 + x1, cy = box_h / 2.0 + y1;
  double left = cx - new_w / 2, top = cy - new_h / 2, right = cx + new_w / 2, bottom = cy + new_h / 2;
  if (left < 0) right -= left, left = 0;
  if (top < 0) bottom -= top, top = 0;
  if (right > image_width - 1) left -= right - image_width + 1, right = image_width - 1;
  if (bottom > image_height - 1) top -= bottom - image_height + 1, bottom = image_height - 1;
  cv::Rect crop(std::max(static_cast<int>(left), 0), std::max(static_cast<int>(top), 0),
                std::min(static_cast<int>(right - left), image_width - 1),
                std::min(static_cast<int>(bottom - top), image_height - 1));
  crop &= cv::Rect(0, 0, image_width, image_height);
  if (crop.width < kMinLandmarkCropPixels || crop.height < kMinLandmarkCropPixels) {
    return too_small(crop.width, crop.height);
  }
  return crop;
}

}  // namespace facefill::detect
