// The backfill's decode stage: threads that read each asset's file beneath the library roots and decode it.
#pragma once

#include <atomic>

#include "bounded_queue.h"
#include "containment.h"
#include "facefill/image.h"
#include "facefill/records.h"
#include "run_control.h"
#include "stage_clock.h"

namespace facefill::pipeline {

// An asset with its decoded image, or the error that kept it from being decoded.
struct DecodedAsset {
  AssetRecord asset;
  Result<DecodedImage> image = Status(StatusCode::kInternal, "not decoded");
};

// Reads and decodes one asset's file, refusing files that lead outside the library roots. Timed as "decode".
Result<DecodedImage> DecodeAsset(const AssetRecord& asset, const Containment& containment, const DecodeOptions& options,
                                 StageClock* clock);

// Not copyable; lives until the threads it started are joined.
class DecodeStage {
 public:
  DecodeStage(const Containment& containment, const DecodeOptions& options, StageClock* clock)
      : containment_(containment), options_(options), clock_(clock) {}

  // Starts `threads` threads taking assets from `in` and handing each, decoded or with its error, to `out`; the
  // last thread to finish closes `out`.
  void Start(int threads, BoundedQueue<AssetRecord>* in, BoundedQueue<DecodedAsset>* out, StageThreads* run);

 private:
  // One thread's loop, until `in` is closed and drained or `out` is closed.
  void DecodeAll(BoundedQueue<AssetRecord>* in, BoundedQueue<DecodedAsset>* out);

  const Containment& containment_;
  const DecodeOptions& options_;
  StageClock* clock_;
  std::atomic<int> running_{0};
};

}  // namespace facefill::pipeline
