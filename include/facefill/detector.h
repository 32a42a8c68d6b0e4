// Face detection: SCRFD (any InsightFace export) and the default pack's Ultra-Light detector + 68-point landmarks.
#pragma once

#include <filesystem>
#include <memory>
#include <opencv2/core.hpp>
#include <span>
#include <string>
#include <vector>

#include "facefill/face.h"
#include "facefill/runtime.h"
#include "facefill/status.h"

namespace facefill {

struct DetectorOptions {
  // Keep candidates scoring at least this (InsightFace det_thresh).
  float score_threshold = 0.5f;
  // Greedy NMS suppresses boxes overlapping a kept one by more than this IoU.
  float nms_threshold = 0.4f;
  // Keep at most this many faces, largest and most central first (InsightFace max_num); 0 keeps all.
  int max_faces = 0;
  // Network input size for models with a dynamic input (InsightFace det_size); fixed-size models use their own.
  int input_width = 640;
  int input_height = 640;
  // With a dynamic input size, feed only the used part of the letterbox rounded up to the largest stride (a 4:3
  // photo: 640x480) instead of the whole input_width x input_height square. Faster; faces may differ slightly from
  // InsightFace's near the bottom or right edge of the photo.
  bool tight_input = false;
  // Images per model call in DetectBatch when the model's batch is dynamic (`facefill models batchify`).
  int max_batch = 8;
  RuntimeOptions runtime;

  Status Validate() const;
};

// Not thread-safe: a detector owns scratch buffers. Give each thread its own Clone(); clones share the loaded model.
class FaceDetector {
 public:
  virtual ~FaceDetector() = default;

  // Detects faces in an 8-bit BGR image. Results are in that image's pixel coordinates, highest score first.
  virtual Result<std::vector<FaceDetection>> Detect(const cv::Mat& bgr) = 0;

  // Detects faces in several images: one list per image, each equal to Detect on that image. A detector whose
  // model takes a batch runs images of one input size together, up to batch_limit() per model call.
  virtual Result<std::vector<std::vector<FaceDetection>>> DetectBatch(std::span<const cv::Mat> images) {
    std::vector<std::vector<FaceDetection>> faces;
    for (const auto& image : images) {
      auto found = Detect(image);
      if (!found.ok()) return found.status();
      faces.push_back(std::move(found).value());
    }
    return faces;
  }

  // Images per model call in DetectBatch: 1 unless the model's batch is dynamic.
  virtual int batch_limit() const { return 1; }

  // A detector sharing this one's loaded model with scratch buffers of its own.
  virtual std::unique_ptr<FaceDetector> Clone() const = 0;

  // A short description for logs: model file, layout, input size.
  virtual std::string Describe() const = 0;
};

// Opens an SCRFD export: 6/9/10/15 outputs, 2-D [N,k] or 3-D [1,N,k], dynamic or fixed input size. The model's
// contract is checked here; errors (kModelError) name the file and the problem.
Result<std::unique_ptr<FaceDetector>> OpenScrfdDetector(const std::filesystem::path& model_path,
                                                        const DetectorOptions& options = {});

// Opens the Ultra-Light RFB-320 detector with its 68-point landmark model; the 68 points are reduced to the five
// alignment points (eye centres, nose tip, mouth corners) so results match SCRFD's kind.
Result<std::unique_ptr<FaceDetector>> OpenUltraLightDetector(const std::filesystem::path& detector_path,
                                                             const std::filesystem::path& landmark_path,
                                                             const DetectorOptions& options = {});

}  // namespace facefill
