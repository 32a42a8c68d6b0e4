// The backfill's inference stage: threads that detect and align each image's faces and embed them in calls that
// gather the faces of several images (fill, then flush).
#pragma once

#include <atomic>
#include <memory>
#include <opencv2/core.hpp>
#include <vector>

#include "bounded_queue.h"
#include "decode_stage.h"
#include "facefill/analyzer.h"
#include "facefill/backfill.h"
#include "run_control.h"
#include "stage_clock.h"

namespace facefill::pipeline {

// The outcome of an asset that failed: no faces, the error kept.
ScanOutcome ErrorOutcome(AssetRecord asset, Status error);

// Aligns the faces of `detections` (of `image`) that pass the service's filters: their records into `outcome`
// (without embeddings) and their crops appended to `crops`, in order. Timed as "align".
Status AlignKept(FaceAnalyzer& analyzer, const DecodedImage& image, const std::vector<FaceDetection>& detections,
                 const BackfillOptions& options, StageClock* clock, ScanOutcome* outcome, std::vector<cv::Mat>* crops);

// Detects and aligns the faces of one decoded image into `outcome` (faces without embeddings, that pass the
// service's filters) and `crops` (theirs, appended in order): the analyzer's own steps. Timed as "detect", "align".
Status DetectAndAlign(FaceAnalyzer& analyzer, const DecodedImage& image, const BackfillOptions& options,
                      StageClock* clock, ScanOutcome* outcome, std::vector<cv::Mat>* crops);

// Embeds `crops` in calls of at most `faces_per_call` faces and assigns them, in order, to the outcomes' faces.
// Timed as "embed".
Status EmbedInto(FaceAnalyzer& analyzer, const std::vector<cv::Mat>& crops, int faces_per_call, StageClock* clock,
                 std::vector<ScanOutcome>* outcomes);

// Not copyable; lives until the threads it started are joined.
class InferenceStage {
 public:
  InferenceStage(const BackfillOptions& options, StageClock* clock) : options_(options), clock_(clock) {}

  // Starts `threads` threads, each with its own clone of `analyzer`, taking decoded assets from `in` and handing
  // their outcomes to `out`; the last thread to finish closes `out`.
  void Start(const FaceAnalyzer& analyzer, int threads, BoundedQueue<DecodedAsset>* in, BoundedQueue<ScanOutcome>* out,
             StageThreads* run);

  // Detector calls made so far: one per image, or one per group of images detected together.
  int64_t detect_calls() const { return detect_calls_; }

 private:
  // One thread's loop: it takes the images that wait, up to images_per_detect_call (never waiting to fill a call, so
  // every thread stays busy), and detects them in one call; their faces are held until faces_per_call crops wait or
  // no image is ready, then embedded together.
  void InferAll(FaceAnalyzer& analyzer, BoundedQueue<DecodedAsset>* in, BoundedQueue<ScanOutcome>* out);
  // Detects the faces of the images taken (together when there are several) and aligns them: one outcome per asset
  // appended to `held`, in order, and their crops to `crops`. An asset that fails gets its own error outcome.
  void DetectAndAlignTaken(FaceAnalyzer& analyzer, const std::vector<DecodedAsset>& taken,
                           std::vector<ScanOutcome>* held, std::vector<cv::Mat>* crops);

  const BackfillOptions& options_;
  StageClock* clock_;
  std::vector<std::unique_ptr<FaceAnalyzer>> analyzers_;  // one per thread
  std::atomic<int> running_{0};
  std::atomic<int64_t> detect_calls_{0};
};

}  // namespace facefill::pipeline
