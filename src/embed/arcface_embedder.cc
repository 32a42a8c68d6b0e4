// ArcFace-style recogniser, mirroring insightface/model_zoo/arcface_onnx.py (ArcFaceONNX.__init__ normalisation
// detection, get_feat) with batching across faces when the graph allows it.
#include <algorithm>
#include <cmath>

#include "../inference/blob.h"
#include "../inference/onnx_model.h"
#include "facefill/embedder.h"

namespace facefill {
namespace {

using inference::OnnxModel;

class ArcFaceEmbedder final : public FaceEmbedder {
 public:
  ArcFaceEmbedder(std::shared_ptr<const OnnxModel> model, int input_size, int dimension, int batch_limit, float mean,
                  float std)
      : model_(std::move(model)),
        input_size_(input_size),
        dimension_(dimension),
        batch_limit_(batch_limit),
        mean_(mean),
        std_(std),
        blob_(model_->NewInputBuffer()) {}

  Result<std::vector<Embedding>> Embed(std::span<const cv::Mat> faces) override {
    std::vector<Embedding> embeddings;
    embeddings.reserve(faces.size());
    const size_t plane = static_cast<size_t>(input_size_) * input_size_;
    for (size_t start = 0; start < faces.size(); start += batch_limit_) {
      const size_t n = std::min(faces.size() - start, static_cast<size_t>(batch_limit_));
      blob_.resize(n * 3 * plane);
      for (size_t i = 0; i < n; ++i) {
        const cv::Mat& face = faces[start + i];
        if (face.rows != input_size_ || face.cols != input_size_ || face.type() != CV_8UC3) {
          return Status(StatusCode::kInvalidArgument, "Embed needs " + std::to_string(input_size_) + "x" +
                                                          std::to_string(input_size_) + " 8-bit BGR crops");
        }
        inference::BgrToRgbPlanes(face, mean_, std_, blob_.data() + i * 3 * plane);
      }
      std::vector<Ort::Value> outputs;
      FACEFILL_RETURN_IF_ERROR(model_->Run(blob_, {static_cast<int64_t>(n), 3, input_size_, input_size_}, &outputs));
      auto out = OnnxModel::View(outputs[0]);
      if (out.count != n * dimension_) {
        return Status(StatusCode::kInferenceError, model_->path().filename().string() + ": unexpected output size");
      }
      for (size_t i = 0; i < n; ++i) {
        const float* v = out.data + i * dimension_;
        double norm = 0;
        for (int k = 0; k < dimension_; ++k) norm += double{v[k]} * v[k];
        const float inv = norm > 0 ? static_cast<float>(1.0 / std::sqrt(norm)) : 0.0f;
        Embedding e(dimension_);
        for (int k = 0; k < dimension_; ++k) e[k] = v[k] * inv;
        embeddings.push_back(std::move(e));
      }
    }
    return embeddings;
  }

  std::unique_ptr<FaceEmbedder> Clone() const override {
    return std::make_unique<ArcFaceEmbedder>(model_, input_size_, dimension_, batch_limit_, mean_, std_);
  }

  int dimension() const override { return dimension_; }
  int input_size() const override { return input_size_; }
  int batch_limit() const override { return batch_limit_; }
  float input_mean() const override { return mean_; }
  float input_std() const override { return std_; }
  std::string Describe() const override {
    return "arcface " + model_->path().filename().string() + " (" + std::to_string(dimension_) + "-d, batch " +
           (batch_limit_ > 1 ? "up to " + std::to_string(batch_limit_) : std::string("fixed at 1")) + ", " +
           model_->device().ToString() + ")";
  }

 private:
  std::shared_ptr<const OnnxModel> model_;
  int input_size_;
  int dimension_;
  int batch_limit_;
  float mean_;
  float std_;
  inference::InputBuffer blob_;
};

}  // namespace

Status EmbedderOptions::Validate() const {
  if (max_batch < 1) return Status(StatusCode::kInvalidArgument, "max_batch must be >= 1");
  if (input_std.has_value() && !(*input_std > 0)) return Status(StatusCode::kInvalidArgument, "input_std must be > 0");
  if (input_mean.has_value() != input_std.has_value()) {
    return Status(StatusCode::kInvalidArgument, "give both input_mean and input_std, or neither");
  }
  return runtime.Validate();
}

Result<std::unique_ptr<FaceEmbedder>> OpenArcFaceEmbedder(const std::filesystem::path& model_path,
                                                          const EmbedderOptions& options) {
  FACEFILL_RETURN_IF_ERROR(options.Validate());
  auto model = OnnxModel::Open(model_path, options.runtime);
  if (!model.ok()) return model.status();
  const auto& in = (*model)->inputs()[0].shape;
  const auto& outs = (*model)->outputs();
  if (in.size() != 4 || in[1] != 3 || in[2] <= 0 || in[2] != in[3] || outs.size() != 1 || outs[0].shape.size() != 2 ||
      outs[0].shape[1] <= 0) {
    return Status(StatusCode::kModelError, model_path.string() +
                                               ": not an ArcFace-style recogniser (expected one input [B,3,S,S] and "
                                               "one output [B,D])");
  }
  float mean = 127.5f, std = 127.5f;
  if (options.input_mean) {
    mean = *options.input_mean;
    std = *options.input_std;
  } else {
    const auto& ops = (*model)->leading_op_types();
    bool has_sub = std::find(ops.begin(), ops.end(), "Sub") != ops.end();
    bool has_mul = std::find(ops.begin(), ops.end(), "Mul") != ops.end();
    if (has_sub && has_mul) mean = 0.0f, std = 1.0f;
  }
  const int batch_limit = in[0] > 0 ? 1 : options.max_batch;
  std::shared_ptr<const OnnxModel> shared = std::move(model).value();
  return std::unique_ptr<FaceEmbedder>(
      new ArcFaceEmbedder(shared, static_cast<int>(in[2]), static_cast<int>(outs[0].shape[1]), batch_limit, mean, std));
}

}  // namespace facefill
