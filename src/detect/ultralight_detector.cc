// The default pack's detector: Ultra-Light-Fast RFB-320 (boxes only) followed by a 68-point landmark model per
// face, reduced to InsightFace's five alignment points. Mirrors faceplugin-face-recognition-js 0.0.1
// (lib/fr_detect.js detectFaceImage + scaleResult, lib/fr_landmark.js alignLandmarkImage, lib/fr_feature.js
// convert68pts5pts), except that NMS is the same score-ordered greedy NMS as SCRFD.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <opencv2/imgproc.hpp>
#include <string>

#include "../inference/blob.h"
#include "../inference/onnx_model.h"
#include "facefill/detector.h"
#include "landmark_crop.h"
#include "nms.h"

namespace facefill {
namespace {

using inference::OnnxModel;

constexpr int kLandmarkInputSize = 64;
constexpr int kLandmarkValues = 136;  // 68 (x, y) pairs, relative to the crop
// 68-point indices averaged into each of the five alignment points (convert68pts5pts).
const std::vector<std::vector<int>> kFivePointSources = {
    {37, 38, 40, 41},  // left eye: centre of its four eyelid points
    {43, 44, 46, 47},  // right eye
    {30},              // nose tip
    {48, 60},          // left mouth corner: outer and inner lip corner
    {54, 64},          // right mouth corner
};

class UltraLightDetector final : public FaceDetector {
 public:
  UltraLightDetector(std::shared_ptr<const OnnxModel> detector, std::shared_ptr<const OnnxModel> landmarks,
                     DetectorOptions options, int input_width, int input_height)
      : detector_(std::move(detector)),
        landmarks_(std::move(landmarks)),
        options_(options),
        input_width_(input_width),
        input_height_(input_height),
        blob_(detector_->NewInputBuffer()),
        landmark_blob_(landmarks_->NewInputBuffer()) {}

  Result<std::vector<FaceDetection>> Detect(const cv::Mat& bgr) override {
    if (bgr.empty() || bgr.type() != CV_8UC3) {
      return Status::InvalidArgument("Detect needs a non-empty 8-bit 3-channel BGR image");
    }
    // Plain resize to the network size (no letterbox), RGB, (p - 127) / 128.
    cv::resize(bgr, resized_, cv::Size(input_width_, input_height_));
    blob_.resize(static_cast<size_t>(3) * input_width_ * input_height_);
    inference::BgrToRgbPlanes(resized_, 127.0f, 128.0f, blob_.data());
    std::vector<Ort::Value> outputs;
    FACEFILL_RETURN_IF_ERROR(detector_->Run(blob_, {1, 3, input_height_, input_width_}, &outputs));
    auto scores = OnnxModel::View(outputs[0]);
    auto boxes = OnnxModel::View(outputs[1]);
    const size_t n = scores.count / 2;
    if (boxes.count != n * 4) {
      return Status::InferenceError(detector_->path().filename().string() + ": scores/boxes mismatch");
    }
    // Boxes come out decoded, as corners relative to the image size.
    const float width = static_cast<float>(bgr.cols), height = static_cast<float>(bgr.rows);
    std::vector<FaceDetection> candidates;
    for (size_t i = 0; i < n; ++i) {
      const float score = scores.data[2 * i + 1];
      if (score < options_.score_threshold) continue;
      const float* b = boxes.data + 4 * i;
      FaceDetection face;
      face.score = score;
      face.box = BoxF{b[0] * width, b[1] * height, b[2] * width, b[3] * height};
      candidates.push_back(face);
    }
    auto faces = detect::SuppressAndSelect(std::move(candidates), options_.nms_threshold, options_.max_faces, bgr.cols,
                                           bgr.rows);
    std::vector<FaceDetection> kept;
    for (auto& face : faces) {
      // scaleResult: a square box of the detected height around the detected centre, clipped to the image.
      const float side = face.box.height();
      const float cx = (face.box.x1 + face.box.x2) / 2, cy = (face.box.y1 + face.box.y2) / 2;
      face.box = BoxF{std::max(0.0f, cx - side / 2), std::max(0.0f, cy - side / 2), std::min(width - 1, cx + side / 2),
                      std::min(height - 1, cy + side / 2)};
      // A face too small (or too broken) for the landmark model is refused: without landmarks its aligned crop
      // would be a black image, stored and searched as if it were a face.
      auto crop = detect::LandmarkCrop(face.box, bgr.cols, bgr.rows);
      if (!crop.ok()) {
        spdlog::debug("ultralight: face refused: {}", crop.status().message());
        continue;
      }
      FACEFILL_RETURN_IF_ERROR(PredictLandmarks(bgr, *crop, &face));
      kept.push_back(face);
    }
    return kept;
  }

  std::unique_ptr<FaceDetector> Clone() const override {
    return std::make_unique<UltraLightDetector>(detector_, landmarks_, options_, input_width_, input_height_);
  }

  std::string Describe() const override {
    return "ultralight " + detector_->path().filename().string() + " + " + landmarks_->path().filename().string() +
           " (" + std::to_string(input_width_) + "x" + std::to_string(input_height_) + ", " +
           detector_->device().ToString() + ")";
  }

 private:
  // The 68-point model on `crop` (see LandmarkCrop), resized to 64x64 grey, / 256; reduced to five points.
  Status PredictLandmarks(const cv::Mat& bgr, const cv::Rect& crop, FaceDetection* face) {
    cv::resize(bgr(crop), landmark_crop_, cv::Size(kLandmarkInputSize, kLandmarkInputSize));
    cv::cvtColor(landmark_crop_, landmark_grey_, cv::COLOR_BGR2GRAY);
    landmark_blob_.resize(static_cast<size_t>(kLandmarkInputSize) * kLandmarkInputSize);
    for (int y = 0; y < kLandmarkInputSize; ++y) {
      const uint8_t* row = landmark_grey_.ptr<uint8_t>(y);
      for (int x = 0; x < kLandmarkInputSize; ++x) landmark_blob_[y * kLandmarkInputSize + x] = row[x] / 256.0f;
    }
    std::vector<Ort::Value> outputs;
    FACEFILL_RETURN_IF_ERROR(landmarks_->Run(landmark_blob_, {1, 1, kLandmarkInputSize, kLandmarkInputSize}, &outputs));
    auto points = OnnxModel::View(outputs[0]);
    if (points.count != kLandmarkValues) {
      return Status::InferenceError(landmarks_->path().filename().string() + ": expected 136 values");
    }
    for (size_t p = 0; p < kFivePointSources.size(); ++p) {
      float x = 0, y = 0;
      for (int index : kFivePointSources[p]) {
        x += points.data[2 * index] * crop.width + crop.x;
        y += points.data[2 * index + 1] * crop.height + crop.y;
      }
      const float n = static_cast<float>(kFivePointSources[p].size());
      face->landmarks[p] = Point2f{x / n, y / n};
    }
    return Status::Ok();
  }

  std::shared_ptr<const OnnxModel> detector_;
  std::shared_ptr<const OnnxModel> landmarks_;
  DetectorOptions options_;
  int input_width_;
  int input_height_;
  cv::Mat resized_, landmark_crop_, landmark_grey_;
  inference::InputBuffer blob_, landmark_blob_;
};

}  // namespace

Result<std::unique_ptr<FaceDetector>> OpenUltraLightDetector(const std::filesystem::path& detector_path,
                                                             const std::filesystem::path& landmark_path,
                                                             const DetectorOptions& options) {
  FACEFILL_RETURN_IF_ERROR(options.Validate());
  auto detector = OnnxModel::Open(detector_path, options.runtime);
  if (!detector.ok()) return detector.status();
  const auto& in = (*detector)->inputs()[0];
  const auto& outs = (*detector)->outputs();
  if (in.shape.size() != 4 || in.shape[1] != 3 || in.shape[2] <= 0 || in.shape[3] <= 0 || outs.size() != 2 ||
      outs[0].shape.size() != 3 || outs[0].shape[2] != 2 || outs[1].shape.size() != 3 || outs[1].shape[2] != 4) {
    return Status::ModelError(detector_path.string() +
                              ": not an Ultra-Light detector (expected input [1,3,H,W] and outputs "
                              "scores [1,N,2], boxes [1,N,4])");
  }
  auto landmarks = OnnxModel::Open(landmark_path, options.runtime);
  if (!landmarks.ok()) return landmarks.status();
  const auto& lin = (*landmarks)->inputs()[0].shape;
  const auto& lout = (*landmarks)->outputs();
  if (lin.size() != 4 || lin[1] != 1 || lin[2] != kLandmarkInputSize || lin[3] != kLandmarkInputSize ||
      lout.size() != 1 || lout[0].shape.empty() || lout[0].shape.back() != kLandmarkValues) {
    return Status::ModelError(landmark_path.string() +
                              ": not a 68-point landmark model (expected input [1,1,64,64], "
                              "output [1,136])");
  }
  std::shared_ptr<const OnnxModel> det = std::move(detector).value();
  std::shared_ptr<const OnnxModel> lmk = std::move(landmarks).value();
  return std::unique_ptr<FaceDetector>(
      new UltraLightDetector(det, lmk, options, static_cast<int>(in.shape[3]), static_cast<int>(in.shape[2])));
}

}  // namespace facefill
