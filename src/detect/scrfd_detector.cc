// SCRFD detector, mirroring insightface/model_zoo/scrfd.py (SCRFD._init_vars, forward, detect, distance2bbox,
// distance2kps) for every export layout InsightFace accepts.
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <string>

#include "../inference/blob.h"
#include "../inference/onnx_model.h"
#include "facefill/detector.h"
#include "nms.h"

namespace facefill {
namespace {

using inference::OnnxModel;

// Output layouts, chosen by the number of outputs (SCRFD._init_vars).
struct Layout {
  size_t outputs;
  std::vector<int> strides;
  int anchors_per_cell;
  bool has_keypoints;
};
constexpr int kScoreWidth = 1, kBoxWidth = 4, kKeypointWidth = 10;

std::optional<Layout> LayoutFor(size_t n_outputs) {
  switch (n_outputs) {
    case 6:
      return Layout{6, {8, 16, 32}, 2, false};
    case 9:
      return Layout{9, {8, 16, 32}, 2, true};
    case 10:
      return Layout{10, {8, 16, 32, 64, 128}, 1, false};
    case 15:
      return Layout{15, {8, 16, 32, 64, 128}, 1, true};
    default:
      return std::nullopt;
  }
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) s += ',';
    s += std::to_string(shape[i]);
  }
  s += ']';
  return s;
}

class ScrfdDetector final : public FaceDetector {
 public:
  ScrfdDetector(std::shared_ptr<const OnnxModel> model, Layout layout, DetectorOptions options, int input_width,
                int input_height)
      : model_(std::move(model)),
        layout_(std::move(layout)),
        options_(options),
        input_width_(input_width),
        input_height_(input_height) {}

  Result<std::vector<FaceDetection>> Detect(const cv::Mat& bgr) override {
    if (bgr.empty() || bgr.type() != CV_8UC3) {
      return Status(StatusCode::kInvalidArgument, "Detect needs a non-empty 8-bit 3-channel BGR image");
    }
    // Aspect-preserving resize to the top-left of a zero canvas (SCRFD.detect).
    const float image_ratio = static_cast<float>(bgr.rows) / static_cast<float>(bgr.cols);
    const float model_ratio = static_cast<float>(input_height_) / static_cast<float>(input_width_);
    int new_width, new_height;
    if (image_ratio > model_ratio) {
      new_height = input_height_;
      new_width = static_cast<int>(static_cast<float>(new_height) / image_ratio);
    } else {
      new_width = input_width_;
      new_height = static_cast<int>(static_cast<float>(new_width) * image_ratio);
    }
    new_width = std::max(new_width, 1);
    new_height = std::max(new_height, 1);
    const double det_scale = static_cast<double>(new_height) / bgr.rows;
    cv::resize(bgr, resized_, cv::Size(new_width, new_height));
    canvas_.create(input_height_, input_width_, CV_8UC3);
    canvas_.setTo(cv::Scalar::all(0));
    resized_.copyTo(canvas_(cv::Rect(0, 0, new_width, new_height)));
    blob_.resize(static_cast<size_t>(3) * input_width_ * input_height_);
    inference::BgrToRgbPlanes(canvas_, 127.5f, 128.0f, blob_.data());

    std::vector<Ort::Value> outputs;
    FACEFILL_RETURN_IF_ERROR(model_->Run(blob_.data(), {1, 3, input_height_, input_width_}, &outputs));

    std::vector<FaceDetection> candidates;
    const size_t n_levels = layout_.strides.size();
    for (size_t level = 0; level < n_levels; ++level) {
      const int stride = layout_.strides[level];
      const int rows = input_height_ / stride, cols = input_width_ / stride;
      const size_t expected = static_cast<size_t>(rows) * cols * layout_.anchors_per_cell;
      auto scores = OnnxModel::View(outputs[level]);
      auto boxes = OnnxModel::View(outputs[level + n_levels]);
      if (scores.count != expected * kScoreWidth || boxes.count != expected * kBoxWidth) {
        return Status(StatusCode::kInferenceError, model_->path().filename().string() + ": stride " +
                                                       std::to_string(stride) + " gave " + ShapeString(scores.shape) +
                                                       " scores for " + std::to_string(expected) + " anchors");
      }
      const float* keypoints = nullptr;
      if (layout_.has_keypoints) {
        auto kps = OnnxModel::View(outputs[level + 2 * n_levels]);
        if (kps.count != expected * kKeypointWidth) {
          return Status(StatusCode::kInferenceError, model_->path().filename().string() + ": keypoint output " +
                                                         ShapeString(kps.shape) + " does not match the anchors");
        }
        keypoints = kps.data;
      }
      // Anchor centres: row-major (x*stride, y*stride), each repeated anchors_per_cell times.
      for (size_t i = 0; i < expected; ++i) {
        const float score = scores.data[i];
        if (score < options_.score_threshold) continue;
        const size_t cell = i / layout_.anchors_per_cell;
        const float cx = static_cast<float>((cell % cols) * stride);
        const float cy = static_cast<float>((cell / cols) * stride);
        const float* d = boxes.data + i * kBoxWidth;
        FaceDetection face;
        face.score = score;
        // distance2bbox, then / det_scale (before NMS, as SCRFD.detect does).
        face.box = BoxF{
            static_cast<float>((cx - d[0] * stride) / det_scale), static_cast<float>((cy - d[1] * stride) / det_scale),
            static_cast<float>((cx + d[2] * stride) / det_scale), static_cast<float>((cy + d[3] * stride) / det_scale)};
        if (keypoints != nullptr) {
          const float* k = keypoints + i * kKeypointWidth;
          for (int p = 0; p < 5; ++p) {
            face.landmarks[p] = Point2f{static_cast<float>((cx + k[2 * p] * stride) / det_scale),
                                        static_cast<float>((cy + k[2 * p + 1] * stride) / det_scale)};
          }
        }
        candidates.push_back(face);
      }
    }
    return detect::SuppressAndSelect(std::move(candidates), options_.nms_threshold, options_.max_faces, bgr.cols,
                                     bgr.rows);
  }

  std::unique_ptr<FaceDetector> Clone() const override {
    return std::make_unique<ScrfdDetector>(model_, layout_, options_, input_width_, input_height_);
  }

  std::string Describe() const override {
    return "scrfd " + model_->path().filename().string() + " (" + std::to_string(layout_.outputs) + " outputs, " +
           std::to_string(input_width_) + "x" + std::to_string(input_height_) + ", " + model_->device().ToString() +
           ")";
  }

 private:
  std::shared_ptr<const OnnxModel> model_;
  Layout layout_;
  DetectorOptions options_;
  int input_width_;
  int input_height_;
  // Scratch, reused across calls.
  cv::Mat resized_;
  cv::Mat canvas_;
  std::vector<float> blob_;
};

Status ContractError(const std::filesystem::path& path, const std::string& what) {
  return Status(StatusCode::kModelError,
                path.string() + ": not a usable SCRFD detector: " + what +
                    " (expected one input [1,3,H,W] and 6, 9, 10 or 15 outputs: scores, boxes, keypoints per stride)");
}

}  // namespace

Status DetectorOptions::Validate() const {
  if (!(score_threshold >= 0 && score_threshold <= 1)) {
    return Status(StatusCode::kInvalidArgument, "score_threshold must be in [0,1]");
  }
  if (!(nms_threshold > 0 && nms_threshold <= 1)) {
    return Status(StatusCode::kInvalidArgument, "nms_threshold must be in (0,1]");
  }
  if (max_faces < 0) return Status(StatusCode::kInvalidArgument, "max_faces must be >= 0");
  if (input_width < 32 || input_height < 32 || input_width % 32 != 0 || input_height % 32 != 0) {
    return Status(StatusCode::kInvalidArgument, "detector input size must be a multiple of 32, at least 32");
  }
  return runtime.Validate();
}

Result<std::unique_ptr<FaceDetector>> OpenScrfdDetector(const std::filesystem::path& model_path,
                                                        const DetectorOptions& options) {
  FACEFILL_RETURN_IF_ERROR(options.Validate());
  auto model = OnnxModel::Open(model_path, options.runtime);
  if (!model.ok()) return model.status();
  const auto& input = (*model)->inputs()[0];
  if (input.shape.size() != 4 || (input.shape[0] != 1 && input.shape[0] != -1) || input.shape[1] != 3) {
    return ContractError(model_path, "input shape is " + ShapeString(input.shape));
  }
  auto layout = LayoutFor((*model)->outputs().size());
  if (!layout) return ContractError(model_path, std::to_string((*model)->outputs().size()) + " outputs");
  const size_t n_levels = layout->strides.size();
  for (size_t i = 0; i < (*model)->outputs().size(); ++i) {
    const auto& out = (*model)->outputs()[i];
    const int64_t width = i < n_levels ? kScoreWidth : i < 2 * n_levels ? kBoxWidth : kKeypointWidth;
    const bool two_d = out.shape.size() == 2;
    const bool three_d = out.shape.size() == 3 && (out.shape[0] == 1 || out.shape[0] == -1);
    if (!out.is_float || !(two_d || three_d) || out.shape.back() != width) {
      return ContractError(model_path, "output " + std::to_string(i) + " '" + out.name + "' has shape " +
                                           ShapeString(out.shape) + ", expected [N," + std::to_string(width) +
                                           "] or [1,N," + std::to_string(width) + "]");
    }
  }
  // A fixed input size wins over the requested one (SCRFD.prepare).
  int width = input.shape[3] > 0 ? static_cast<int>(input.shape[3]) : options.input_width;
  int height = input.shape[2] > 0 ? static_cast<int>(input.shape[2]) : options.input_height;
  std::shared_ptr<const OnnxModel> shared = std::move(model).value();
  return std::unique_ptr<FaceDetector>(new ScrfdDetector(shared, *layout, options, width, height));
}

}  // namespace facefill
