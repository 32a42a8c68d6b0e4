// Umeyama similarity estimate and warp, mirroring insightface utils/face_align.py (estimate_norm, norm_crop) and
// skimage.transform._geometric._umeyama.
#include <algorithm>
#include <limits>
#include <opencv2/imgproc.hpp>

#include "facefill/align.h"

namespace facefill {
namespace {

// ArcFace destination points for a 112x112 crop (x, y).
constexpr double kArcFaceTemplate[5][2] = {
    {38.2946, 51.6963}, {73.5318, 51.5014}, {56.0252, 71.7366}, {41.5493, 92.3655}, {70.7299, 92.2041}};

}  // namespace

cv::Matx23d EstimateNormCropTransform(const FiveLandmarks& landmarks, int image_size) {
  // Template scaled to the crop size (estimate_norm): sizes divisible by 112 scale by size/112, those divisible
  // by 128 scale by size/128 and shift x by 8*ratio.
  double ratio = 1.0, diff_x = 0.0;
  if (image_size % 112 == 0) {
    ratio = image_size / 112.0;
  } else {
    ratio = image_size / 128.0;
    diff_x = 8.0 * ratio;
  }
  double src[5][2], dst[5][2];
  double src_mean[2] = {0, 0}, dst_mean[2] = {0, 0};
  for (int i = 0; i < 5; ++i) {
    src[i][0] = landmarks[i].x;
    src[i][1] = landmarks[i].y;
    dst[i][0] = kArcFaceTemplate[i][0] * ratio + diff_x;
    dst[i][1] = kArcFaceTemplate[i][1] * ratio;
    for (int d = 0; d < 2; ++d) {
      src_mean[d] += src[i][d] / 5;
      dst_mean[d] += dst[i][d] / 5;
    }
  }
  // A = dst_demean^T * src_demean / n; src variance for the scale.
  cv::Matx22d a = cv::Matx22d::zeros();
  double src_var = 0;
  for (int i = 0; i < 5; ++i) {
    double s[2] = {src[i][0] - src_mean[0], src[i][1] - src_mean[1]};
    double t[2] = {dst[i][0] - dst_mean[0], dst[i][1] - dst_mean[1]};
    for (int r = 0; r < 2; ++r)
      for (int c = 0; c < 2; ++c) a(r, c) += t[r] * s[c] / 5;
    src_var += (s[0] * s[0] + s[1] * s[1]) / 5;
  }
  cv::Matx21d d(1, 1);
  if (cv::determinant(a) < 0) d(1) = -1;
  cv::Mat w, u, vt;
  cv::SVD::compute(cv::Mat(a), w, u, vt, cv::SVD::FULL_UV);
  cv::Matx22d U(u), Vt(vt);
  const double tolerance = std::max(w.at<double>(0), 1e-300) * 2 * std::numeric_limits<double>::epsilon();
  const int rank = (w.at<double>(0) > tolerance) + (w.at<double>(1) > tolerance);
  cv::Matx22d rotation;
  if (rank == 0) return cv::Matx23d::zeros();
  if (rank == 1) {
    if (cv::determinant(U) * cv::determinant(Vt) > 0) {
      rotation = U * Vt;
    } else {
      rotation = U * cv::Matx22d(d(0), 0, 0, -1) * Vt;
    }
  } else {
    rotation = U * cv::Matx22d(d(0), 0, 0, d(1)) * Vt;
  }
  const double scale = (w.at<double>(0) * d(0) + w.at<double>(1) * d(1)) / src_var;
  cv::Matx23d m;
  for (int r = 0; r < 2; ++r) {
    m(r, 0) = scale * rotation(r, 0);
    m(r, 1) = scale * rotation(r, 1);
    m(r, 2) = dst_mean[r] - scale * (rotation(r, 0) * src_mean[0] + rotation(r, 1) * src_mean[1]);
  }
  return m;
}

cv::Mat AlignFace(const cv::Mat& bgr, const FiveLandmarks& landmarks, int image_size) {
  cv::Mat aligned;
  cv::warpAffine(bgr, aligned, cv::Mat(EstimateNormCropTransform(landmarks, image_size)),
                 cv::Size(image_size, image_size), cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(0));
  return aligned;
}

}  // namespace facefill
