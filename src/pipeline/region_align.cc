// Region decode's alignment: landmarks to full resolution, the pixels each crop samples, one JPEG pass for all.
#include "region_align.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "facefill/align.h"

namespace facefill::pipeline {
namespace {

// Pixels kept around what a crop samples: bilinear reads the next pixel, and a whole chroma block more keeps the
// crop away from the decoded area's edges, where upsampling would see only one side.
constexpr int kRegionMargin = 16;

}  // namespace

cv::Rect AlignmentRegion(const FiveLandmarks& landmarks, int crop_size, int image_width, int image_height) {
  cv::Mat forward(EstimateNormCropTransform(landmarks, crop_size)), inverse;
  cv::invertAffineTransform(forward, inverse);
  const cv::Matx23d m(inverse);
  double x0 = 1e300, y0 = 1e300, x1 = -1e300, y1 = -1e300;
  for (double u : {0.0, static_cast<double>(crop_size)}) {
    for (double v : {0.0, static_cast<double>(crop_size)}) {
      const double x = m(0, 0) * u + m(0, 1) * v + m(0, 2), y = m(1, 0) * u + m(1, 1) * v + m(1, 2);
      x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
    }
  }
  auto clamp = [](double v, int hi) { return static_cast<int>(std::clamp(v, 0.0, static_cast<double>(hi))); };
  const int left = clamp(std::floor(x0) - kRegionMargin, image_width);
  const int top = clamp(std::floor(y0) - kRegionMargin, image_height);
  const int right = clamp(std::ceil(x1) + kRegionMargin + 1, image_width);
  const int bottom = clamp(std::ceil(y1) + kRegionMargin + 1, image_height);
  if (right <= left || bottom <= top) return {};
  return {left, top, right - left, bottom - top};
}

Status AlignFaces(FaceAnalyzer& analyzer, const DecodedImage& image, std::span<const FiveLandmarks> landmarks,
                  std::string_view name, std::vector<cv::Mat>* crops) {
  if (image.jpeg == nullptr) {
    for (const auto& l : landmarks) crops->push_back(analyzer.Align(image.bgr, l));
    return Status::Ok();
  }
  const int size = analyzer.embedder().input_size();
  // Landmarks in full-resolution pixels, as the catalog stores them (ToFaceRecords) and as detection on the full
  // decode would give them: the detector maps its canvas back by dividing by its scale, and so does this.
  std::vector<FiveLandmarks> full(landmarks.begin(), landmarks.end());
  for (auto& l : full) {
    for (auto& p : l) {
      p.x = static_cast<float>(p.x / image.scale);
      p.y = static_cast<float>(p.y / image.scale);
    }
  }
  std::vector<cv::Rect> regions;
  std::vector<size_t> decoded_face;  // the face of each region
  for (size_t i = 0; i < full.size(); ++i) {
    const cv::Rect r = AlignmentRegion(full[i], size, image.width, image.height);
    if (r.empty()) continue;
    regions.push_back(r);
    decoded_face.push_back(i);
  }
  FACEFILL_ASSIGN_OR_RETURN(std::vector<cv::Mat> pixels,
                            DecodeJpegRegions(*image.jpeg, image.orientation, regions, name));
  // A crop wholly outside the image is black, as warping a full decode would make it.
  std::vector<cv::Mat> out(full.size(), cv::Mat::zeros(size, size, CV_8UC3));
  for (size_t k = 0; k < regions.size(); ++k) {
    FiveLandmarks local = full[decoded_face[k]];
    for (auto& p : local) {
      p.x -= static_cast<float>(regions[k].x);
      p.y -= static_cast<float>(regions[k].y);
    }
    out[decoded_face[k]] = analyzer.Align(pixels[k], local);
  }
  crops->insert(crops->end(), std::make_move_iterator(out.begin()), std::make_move_iterator(out.end()));
  return Status::Ok();
}

}  // namespace facefill::pipeline
