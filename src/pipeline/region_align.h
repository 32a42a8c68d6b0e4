// Alignment from full-resolution pixels: the embedder's crops of faces found in a reduced JPEG decode, cut from the
// face regions decoded again at full resolution (region decode), or from the decoded pixels for other images.
#pragma once

#include <opencv2/core.hpp>
#include <span>
#include <string_view>
#include <vector>

#include "facefill/analyzer.h"
#include "facefill/image.h"

namespace facefill::pipeline {

// The full-resolution rectangle (upright pixels, inside the image) whose pixels the embedder crop of the face with
// these full-resolution landmarks samples, with a margin; empty when the crop lies wholly outside the image.
cv::Rect AlignmentRegion(const FiveLandmarks& landmarks, int crop_size, int image_width, int image_height);

// Appends to `crops` the embedder's input crop of each face with `landmarks` (in `image.bgr`'s pixels), in order.
// When the image keeps its JPEG (DecodedImage::jpeg), the landmarks are mapped to full resolution, the regions the
// crops need are decoded at full resolution in one pass and the crops are cut from them: equal to aligning from a
// full decode. Otherwise the crops come from image.bgr. A failed region decode is the image's error (nothing is
// appended).
Status AlignFaces(FaceAnalyzer& analyzer, const DecodedImage& image, std::span<const FiveLandmarks> landmarks,
                  std::string_view name, std::vector<cv::Mat>* crops);

}  // namespace facefill::pipeline
