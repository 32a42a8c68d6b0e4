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

 private:
  // One thread's loop: images are taken one at a time (so every thread stays busy); their faces are held until
  // faces_per_call crops wait or no image is ready, then embedded together.
  void InferAll(FaceAnalyzer& analyzer, BoundedQueue<DecodedAsset>* in, BoundedQueue<ScanOutcome>* out);

  const BackfillOptions& options_;
  StageClock* clock_;
  std::vector<std::unique_ptr<FaceAnalyzer>> analyzers_;  // one per thread
  std::atomic<int> running_{0};
};

}  // namespace facefill::pipeline
