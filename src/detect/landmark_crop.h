// The region of an image the 68-point landmark model reads for one Ultra-Light face (fr_landmark.js
// alignLandmarkImage with scale 1), or why the face cannot have landmarks.
#pragma once

#include <opencv2/core.hpp>

#include "facefill/face.h"
#include "facefill/status.h"

namespace facefill::detect {

// The smallest crop, in pixels each way, the landmark model is given: below it the landmarks are meaningless and
// the aligned face would be a black image.
inline constexpr int kMinLandmarkCropPixels = 2;

// The box itself, shifted inside the image. kInvalidArgument, saying why, for a box that is not finite or whose crop
// is under kMinLandmarkCropPixels either way: such a face is refused, never stored without landmarks.
Result<cv::Rect> LandmarkCrop(const BoxF& box, int image_width, int image_height);

}  // namespace facefill::detect
