// BatchifyModel: rewrite (batch_rewrite.cc), then prove with ONNX Runtime that a batch of real photos gives each
// photo's single-image outputs before the file is written.
#include "facefill/model_batchify.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <opencv2/imgproc.hpp>

#include "../inference/blob.h"
#include "../inference/onnx_model.h"
#include "batch_rewrite.h"
#include "facefill/image.h"

namespace facefill {
namespace {

namespace fs = std::filesystem;
using inference::OnnxModel;

Status Refuse(const fs::path& in, const std::string& why) {
  return Status::ModelError(in.string() + ": batch check failed, nothing written: " + why);
}

bool HasImageExtension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".webp" || ext == ".bmp";
}

// The first `count` photos under the given files and folders that decode, in sorted path order.
Result<std::vector<std::pair<fs::path, cv::Mat>>> LoadPhotos(const std::vector<fs::path>& sources, int count) {
  std::vector<fs::path> files;
  for (const auto& source : sources) {
    std::error_code ec;
    if (fs::is_directory(source, ec)) {
      for (const auto& entry : fs::recursive_directory_iterator(source, ec)) {
        if (entry.is_regular_file() && HasImageExtension(entry.path())) files.push_back(entry.path());
      }
    } else if (fs::exists(source, ec)) {
      files.push_back(source);
    } else {
      return Status::NotFound(source.string() + ": no such photo or folder");
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<std::pair<fs::path, cv::Mat>> photos;
  for (const auto& file : files) {
    if (static_cast<int>(photos.size()) == count) break;
    auto decoded = DecodeImageFile(file);
    if (decoded.ok()) photos.emplace_back(file, std::move(decoded->bgr));
  }
  if (static_cast<int>(photos.size()) < count) {
    return Status::InvalidArgument(
        fmt::format("the check needs {} photos that decode, found {} (give --images)", count, photos.size()));
  }
  return photos;
}

// Letterbox to the top-left of a zero canvas (as the detector does), then RGB planes (p - 127.5) / 128.
void Letterbox(const cv::Mat& bgr, int width, int height, float* out) {
  const double scale = std::min(static_cast<double>(width) / bgr.cols, static_cast<double>(height) / bgr.rows);
  const int new_width = std::clamp(static_cast<int>(bgr.cols * scale), 1, width);
  const int new_height = std::clamp(static_cast<int>(bgr.rows * scale), 1, height);
  cv::Mat canvas(height, width, CV_8UC3, cv::Scalar::all(0));
  cv::Mat resized;
  cv::resize(bgr, resized, cv::Size(new_width, new_height));
  resized.copyTo(canvas(cv::Rect(0, 0, new_width, new_height)));
  inference::BgrToRgbPlanes(canvas, 127.5f, 128.0f, out);
}

// Runs one input size: each photo alone through the original, all together through the rewritten model.
Status CheckSize(const OnnxModel& original, const OnnxModel& batched, const fs::path& in,
                 const std::vector<std::pair<fs::path, cv::Mat>>& photos, int width, int height, float tolerance,
                 double* largest_difference) {
  const size_t n = photos.size();
  const size_t image_size = static_cast<size_t>(3) * width * height;
  inference::InputBuffer blob = batched.NewInputBuffer();
  blob.resize(n * image_size);
  for (size_t i = 0; i < n; ++i) Letterbox(photos[i].second, width, height, blob.data() + i * image_size);

  std::vector<std::vector<Ort::Value>> singles(n);
  inference::InputBuffer one = original.NewInputBuffer();
  one.resize(image_size);
  for (size_t i = 0; i < n; ++i) {
    std::copy_n(blob.data() + i * image_size, image_size, one.data());
    FACEFILL_RETURN_IF_ERROR(original.Run(one, {1, 3, height, width}, &singles[i]));
  }
  std::vector<Ort::Value> together;
  Status run = batched.Run(blob, {static_cast<int64_t>(n), 3, height, width}, &together);
  if (!run.ok())
    return Refuse(in, "the rewritten model does not run a batch of " + std::to_string(n) + ": " + run.message());
  if (together.size() != singles[0].size()) return Refuse(in, "the rewritten model has other outputs");
  bool photos_differ = false;
  for (size_t o = 0; o < together.size(); ++o) {
    const auto batch_view = OnnxModel::View(together[o]);
    const std::string output = batched.outputs()[o].name;
    for (size_t i = 0; i < n; ++i) {
      const auto single = OnnxModel::View(singles[i][o]);
      if (batch_view.shape.empty() || batch_view.shape[0] != static_cast<int64_t>(n) ||
          batch_view.count != n * single.count) {
        return Refuse(in, fmt::format("output '{}' of a batch of {} has shape [{}], not the batch of {} outputs "
                                      "of {} values each (a Reshape or constant shape this rewrite does not know "
                                      "pins the batch)",
                                      output, n, fmt::join(batch_view.shape, ","), n, single.count));
      }
      const float* slice = batch_view.data + i * single.count;
      for (size_t k = 0; k < single.count; ++k) {
        const double difference = std::abs(double{slice[k]} - double{single.data[k]});
        if (!(difference <= tolerance)) {  // NaN fails too
          return Refuse(in, fmt::format("{} at {}x{}: output '{}' value {} is {} in the batch and {} alone "
                                        "(difference {:.3g} > {:.3g})",
                                        photos[i].first.filename().string(), width, height, output, k, slice[k],
                                        single.data[k], difference, tolerance));
        }
        *largest_difference = std::max(*largest_difference, difference);
      }
      if (i > 0) {
        const auto first = OnnxModel::View(singles[0][o]);
        photos_differ = photos_differ || first.count != single.count ||
                        !std::equal(first.data, first.data + first.count, single.data);
      }
    }
  }
  if (!photos_differ) return Refuse(in, "the photos gave identical outputs, so the check proves nothing");
  return Status::Ok();
}

Status ReadFile(const fs::path& path, std::string* bytes) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return Status::NotFound(path.string() + ": model file not found or not readable");
  bytes->assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  return Status::Ok();
}

Status WriteFile(const fs::path& path, const std::string& bytes) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  file.close();
  if (!file) return Status::IoError(path.string() + ": cannot write");
  return Status::Ok();
}

}  // namespace

Status BatchifyOptions::Validate() const {
  if (verify_batch < 2) return Status::InvalidArgument("verify_batch must be >= 2");
  if (!(tolerance >= 0)) return Status::InvalidArgument("tolerance must be >= 0");
  if (sample_images.empty()) return Status::InvalidArgument("the check needs sample photos");
  for (const auto& [width, height] : dynamic_sizes) {
    if (width < 1 || height < 1) return Status::InvalidArgument("dynamic_sizes must be positive");
  }
  return runtime.Validate();
}

Result<BatchifyReport> BatchifyModel(const fs::path& in, const fs::path& out, const BatchifyOptions& options) {
  FACEFILL_RETURN_IF_ERROR(options.Validate());
  std::string bytes;
  FACEFILL_RETURN_IF_ERROR(ReadFile(in, &bytes));
  FACEFILL_ASSIGN_OR_RETURN(auto rewrite, models::RewriteBatchDimension(bytes, in.string()));
  FACEFILL_ASSIGN_OR_RETURN(auto photos, LoadPhotos(options.sample_images, options.verify_batch));
  FACEFILL_ASSIGN_OR_RETURN(auto original, OnnxModel::Open(in, options.runtime));

  // The candidate is written beside `out` and renamed over it only once it has passed.
  const fs::path candidate = out.string() + ".partial";
  FACEFILL_RETURN_IF_ERROR(WriteFile(candidate, rewrite.model_bytes));
  auto remove_candidate = [&candidate] {
    std::error_code ec;
    fs::remove(candidate, ec);
  };
  auto batched = OnnxModel::Open(candidate, options.runtime);
  if (!batched.ok()) {
    remove_candidate();
    return Refuse(in, "ONNX Runtime cannot load the rewritten model: " + batched.status().message());
  }

  BatchifyReport report;
  report.changes = std::move(rewrite.changes);
  report.verified_batch = options.verify_batch;
  for (const auto& photo : photos) report.images.push_back(photo.first);
  const auto& shape = (*batched)->inputs()[0].shape;
  if (shape.size() != 4 || shape[1] != 3) {
    remove_candidate();
    return Refuse(in, "the check feeds 3-channel images; this model's input is not [batch,3,H,W]");
  }
  std::vector<std::pair<int, int>> sizes = options.dynamic_sizes;
  if (shape[2] > 0 && shape[3] > 0) sizes = {{static_cast<int>(shape[3]), static_cast<int>(shape[2])}};
  for (const auto& [width, height] : sizes) {
    Status checked =
        CheckSize(*original, **batched, in, photos, width, height, options.tolerance, &report.largest_difference);
    if (!checked.ok()) {
      remove_candidate();
      return checked;
    }
    report.verified_sizes.push_back(std::to_string(width) + "x" + std::to_string(height));
  }
  std::error_code ec;
  fs::rename(candidate, out, ec);
  if (ec) {
    remove_candidate();
    return Status::IoError(out.string() + ": cannot write: " + ec.message());
  }
  return report;
}

}  // namespace facefill
