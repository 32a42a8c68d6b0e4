// SCRFD detector, mirroring insightface/model_zoo/scrfd.py (SCRFD._init_vars, forward, detect, distance2bbox,
// distance2kps) for every export layout InsightFace accepts.
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <optional>
#include <span>
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

// Where one image goes in the network input: InsightFace's aspect-preserving resize to the top-left of a zero
// canvas (SCRFD.detect), and the canvas size: the model's input, or with a tight input the used part rounded up
// to the largest stride.
struct Letterbox {
  int resized_width = 0;
  int resized_height = 0;
  int canvas_width = 0;
  int canvas_height = 0;
  double det_scale = 1;  // resized pixels per image pixel
};

int RoundUp(int value, int multiple) { return (value + multiple - 1) / multiple * multiple; }

class ScrfdDetector final : public FaceDetector {
 public:
  ScrfdDetector(std::shared_ptr<const OnnxModel> model, Layout layout, DetectorOptions options, int input_width,
                int input_height, bool dynamic_size, int batch_limit)
      : model_(std::move(model)),
        layout_(std::move(layout)),
        options_(options),
        input_width_(input_width),
        input_height_(input_height),
        dynamic_size_(dynamic_size),
        batch_limit_(batch_limit),
        blob_(model_->NewInputBuffer()) {}

  Result<std::vector<FaceDetection>> Detect(const cv::Mat& bgr) override {
    FACEFILL_RETURN_IF_ERROR(CheckImage(bgr));
    const Letterbox box = Plan(bgr);
    std::vector<std::vector<FaceDetection>> faces(1);
    const cv::Mat* image = &bgr;
    FACEFILL_RETURN_IF_ERROR(RunGroup(std::span<const cv::Mat* const>(&image, 1), box, faces.data()));
    return std::move(faces[0]);
  }

  Result<std::vector<std::vector<FaceDetection>>> DetectBatch(std::span<const cv::Mat> images) override {
    std::vector<Letterbox> boxes;
    boxes.reserve(images.size());
    for (const auto& bgr : images) {
      FACEFILL_RETURN_IF_ERROR(CheckImage(bgr));
      boxes.push_back(Plan(bgr));
    }
    // One model call runs images of one canvas size (all of them, unless the input is tight), batch_limit at most.
    std::vector<std::vector<FaceDetection>> faces(images.size());
    std::vector<bool> done(images.size(), false);
    for (size_t first = 0; first < images.size(); ++first) {
      if (done[first]) continue;
      std::vector<const cv::Mat*> group;
      std::vector<size_t> indices;
      for (size_t i = first; i < images.size() && static_cast<int>(group.size()) < batch_limit_; ++i) {
        if (done[i] || boxes[i].canvas_width != boxes[first].canvas_width ||
            boxes[i].canvas_height != boxes[first].canvas_height) {
          continue;
        }
        group.push_back(&images[i]);
        indices.push_back(i);
        done[i] = true;
      }
      std::vector<std::vector<FaceDetection>> group_faces(group.size());
      FACEFILL_RETURN_IF_ERROR(RunGroup(group, boxes[first], group_faces.data()));
      for (size_t k = 0; k < indices.size(); ++k) faces[indices[k]] = std::move(group_faces[k]);
    }
    return faces;
  }

  int batch_limit() const override { return batch_limit_; }

  std::unique_ptr<FaceDetector> Clone() const override {
    return std::make_unique<ScrfdDetector>(model_, layout_, options_, input_width_, input_height_, dynamic_size_,
                                           batch_limit_);
  }

  std::string Describe() const override {
    return "scrfd " + model_->path().filename().string() + " (" + std::to_string(layout_.outputs) + " outputs, " +
           std::to_string(input_width_) + "x" + std::to_string(input_height_) +
           (dynamic_size_ && options_.tight_input ? " tight" : "") +
           (batch_limit_ > 1 ? ", batch up to " + std::to_string(batch_limit_) : "") + ", " +
           model_->device().ToString() + ")";
  }

 private:
  static Status CheckImage(const cv::Mat& bgr) {
    if (bgr.empty() || bgr.type() != CV_8UC3) {
      return Status(StatusCode::kInvalidArgument, "Detect needs a non-empty 8-bit 3-channel BGR image");
    }
    return Status::Ok();
  }

  Letterbox Plan(const cv::Mat& bgr) const {
    Letterbox box;
    const float image_ratio = static_cast<float>(bgr.rows) / static_cast<float>(bgr.cols);
    const float model_ratio = static_cast<float>(input_height_) / static_cast<float>(input_width_);
    if (image_ratio > model_ratio) {
      box.resized_height = input_height_;
      box.resized_width = static_cast<int>(static_cast<float>(box.resized_height) / image_ratio);
    } else {
      box.resized_width = input_width_;
      box.resized_height = static_cast<int>(static_cast<float>(box.resized_width) * image_ratio);
    }
    box.resized_width = std::max(box.resized_width, 1);
    box.resized_height = std::max(box.resized_height, 1);
    box.det_scale = static_cast<double>(box.resized_height) / bgr.rows;
    box.canvas_width = input_width_;
    box.canvas_height = input_height_;
    if (dynamic_size_ && options_.tight_input) {
      const int largest_stride = layout_.strides.back();
      box.canvas_width = std::min(input_width_, RoundUp(box.resized_width, largest_stride));
      box.canvas_height = std::min(input_height_, RoundUp(box.resized_height, largest_stride));
    }
    return box;
  }

  // Letterboxes `images` (all with `size`'s canvas) into one [B,3,H,W] tensor, runs it, and decodes each image's
  // faces from its slice of the outputs.
  Status RunGroup(std::span<const cv::Mat* const> images, const Letterbox& size, std::vector<FaceDetection>* faces) {
    const int width = size.canvas_width, height = size.canvas_height;
    const size_t image_floats = static_cast<size_t>(3) * width * height;
    blob_.resize(images.size() * image_floats);
    std::vector<Letterbox> boxes;
    for (size_t i = 0; i < images.size(); ++i) {
      const cv::Mat& bgr = *images[i];
      boxes.push_back(Plan(bgr));
      const Letterbox& box = boxes.back();
      cv::resize(bgr, resized_, cv::Size(box.resized_width, box.resized_height));
      canvas_.create(height, width, CV_8UC3);
      canvas_.setTo(cv::Scalar::all(0));
      resized_.copyTo(canvas_(cv::Rect(0, 0, box.resized_width, box.resized_height)));
      inference::BgrToRgbPlanes(canvas_, 127.5f, 128.0f, blob_.data() + i * image_floats);
    }
    std::vector<Ort::Value> outputs;
    FACEFILL_RETURN_IF_ERROR(model_->Run(blob_, {static_cast<int64_t>(images.size()), 3, height, width}, &outputs));
    for (size_t i = 0; i < images.size(); ++i) {
      auto decoded = Decode(outputs, i, images.size(), width, height, boxes[i].det_scale);
      if (!decoded.ok()) return decoded.status();
      faces[i] = detect::SuppressAndSelect(std::move(decoded).value(), options_.nms_threshold, options_.max_faces,
                                           images[i]->cols, images[i]->rows);
    }
    return Status::Ok();
  }

  // Candidates of image `index` of a batch of `batch` (outputs [N,k] for a batch of one, or [batch,N,k]), in image
  // pixels: distance2bbox / distance2kps, then / det_scale before NMS, as SCRFD.detect does.
  Result<std::vector<FaceDetection>> Decode(const std::vector<Ort::Value>& outputs, size_t index, size_t batch,
                                            int width, int height, double det_scale) const {
    std::vector<FaceDetection> candidates;
    const size_t n_levels = layout_.strides.size();
    for (size_t level = 0; level < n_levels; ++level) {
      const int stride = layout_.strides[level];
      const int rows = height / stride, cols = width / stride;
      const size_t expected = static_cast<size_t>(rows) * cols * layout_.anchors_per_cell;
      auto scores = OnnxModel::View(outputs[level]);
      auto boxes = OnnxModel::View(outputs[level + n_levels]);
      if (scores.count != batch * expected * kScoreWidth || boxes.count != batch * expected * kBoxWidth) {
        return Status(StatusCode::kInferenceError, model_->path().filename().string() + ": stride " +
                                                       std::to_string(stride) + " gave " + ShapeString(scores.shape) +
                                                       " scores for " + std::to_string(batch) + " x " +
                                                       std::to_string(expected) + " anchors");
      }
      const float* score_data = scores.data + index * expected * kScoreWidth;
      const float* box_data = boxes.data + index * expected * kBoxWidth;
      const float* keypoints = nullptr;
      if (layout_.has_keypoints) {
        auto kps = OnnxModel::View(outputs[level + 2 * n_levels]);
        if (kps.count != batch * expected * kKeypointWidth) {
          return Status(StatusCode::kInferenceError, model_->path().filename().string() + ": keypoint output " +
                                                         ShapeString(kps.shape) + " does not match the anchors");
        }
        keypoints = kps.data + index * expected * kKeypointWidth;
      }
      // Anchor centres: row-major (x*stride, y*stride), each repeated anchors_per_cell times.
      for (size_t i = 0; i < expected; ++i) {
        const float score = score_data[i];
        if (score < options_.score_threshold) continue;
        const size_t cell = i / layout_.anchors_per_cell;
        const float cx = static_cast<float>((cell % cols) * stride);
        const float cy = static_cast<float>((cell / cols) * stride);
        const float* d = box_data + i * kBoxWidth;
        FaceDetection face;
        face.score = score;
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
    return candidates;
  }

  std::shared_ptr<const OnnxModel> model_;
  Layout layout_;
  DetectorOptions options_;
  int input_width_;
  int input_height_;
  bool dynamic_size_;  // the model takes any height and width
  int batch_limit_;    // images per model call: options.max_batch when the model takes a batch, else 1
  // Scratch, reused across calls.
  cv::Mat resized_;
  cv::Mat canvas_;
  inference::InputBuffer blob_;
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
  if (max_batch < 1) return Status(StatusCode::kInvalidArgument, "max_batch must be >= 1");
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
  const bool dynamic_size = input.shape[2] <= 0 && input.shape[3] <= 0;
  int width = input.shape[3] > 0 ? static_cast<int>(input.shape[3]) : options.input_width;
  int height = input.shape[2] > 0 ? static_cast<int>(input.shape[2]) : options.input_height;
  // Several images per call only when the batch is dynamic and every output keeps it ([batch,N,k], as `facefill
  // models batchify` writes): a 2-D [N,k] output has flattened the batch away.
  bool batch_capable = input.shape[0] == -1;
  for (const auto& out : (*model)->outputs()) batch_capable = batch_capable && out.shape.size() == 3;
  const int batch_limit = batch_capable ? options.max_batch : 1;
  std::shared_ptr<const OnnxModel> shared = std::move(model).value();
  return std::unique_ptr<FaceDetector>(
      new ScrfdDetector(shared, *layout, options, width, height, dynamic_size, batch_limit));
}

}  // namespace facefill
