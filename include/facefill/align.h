// Face alignment to the ArcFace template (InsightFace utils/face_align.py norm_crop).
#pragma once

#include <opencv2/core.hpp>

#include "facefill/face.h"

namespace facefill {

// The similarity transform (rotation, uniform scale, translation) mapping `landmarks` onto the ArcFace template for
// an `image_size` crop, by least squares (Umeyama, as skimage SimilarityTransform.estimate), in float64.
cv::Matx23d EstimateNormCropTransform(const FiveLandmarks& landmarks, int image_size = 112);

// Warps `bgr` with that transform into an image_size x image_size crop: bilinear, constant black border.
cv::Mat AlignFace(const cv::Mat& bgr, const FiveLandmarks& landmarks, int image_size = 112);

}  // namespace facefill
