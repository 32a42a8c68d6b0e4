// The inference stage: detect -> align per image, embed batched across images, on each thread's analyzer clone.
#include "inference_stage.h"

#include <algorithm>

#include "../core/process_tuning.h"
#include "face_records.h"
#include "facefill/runtime.h"
#include "region_align.h"
#include "thread_boundary.h"

namespace facefill::pipeline {

ScanOutcome ErrorOutcome(AssetRecord asset, Status error) {
  ScanOutcome o;
  o.asset = std::move(asset);
  o.state = ScanState::kError;
  o.error = std::move(error);
  return o;
}

Status AlignKept(FaceAnalyzer& analyzer, const DecodedImage& image, const std::vector<FaceDetection>& detections,
                 const BackfillOptions& options, StageClock* clock, ScanOutcome* outcome, std::vector<cv::Mat>* crops) {
  std::vector<size_t> kept;
  outcome->faces = ToFaceRecords(outcome->asset, detections, image.scale, options, analyzer.pack().id, &kept);
  outcome->state = outcome->faces.empty() ? ScanState::kNoFaces : ScanState::kDone;
  auto timer = clock->Start("align");
  std::vector<FiveLandmarks> landmarks;
  for (size_t i : kept) landmarks.push_back(detections[i].landmarks);
  return AlignFaces(analyzer, image, landmarks, outcome->asset.path, crops);
}

Status DetectAndAlign(FaceAnalyzer& analyzer, const DecodedImage& image, const BackfillOptions& options,
                      StageClock* clock, ScanOutcome* outcome, std::vector<cv::Mat>* crops) {
  Result<std::vector<FaceDetection>> detections = Status(StatusCode::kInternal, "");
  {
    auto timer = clock->Start("detect");
    detections = analyzer.Detect(image.bgr);
  }
  if (!detections.ok()) return detections.status();
  return AlignKept(analyzer, image, *detections, options, clock, outcome, crops);
}

Status EmbedInto(FaceAnalyzer& analyzer, const std::vector<cv::Mat>& crops, int faces_per_call, StageClock* clock,
                 std::vector<ScanOutcome>* outcomes) {
  auto timer = clock->Start("embed");
  FACEFILL_ASSIGN_OR_RETURN(std::vector<Embedding> embeddings, analyzer.Embed(crops, faces_per_call));
  size_t next = 0;
  for (auto& o : *outcomes) {
    for (auto& f : o.faces) f.embedding = std::move(embeddings[next++]);
  }
  return Status::Ok();
}

void InferenceStage::Start(const FaceAnalyzer& analyzer, int threads, BoundedQueue<DecodedAsset>* in,
                           BoundedQueue<ScanOutcome>* out, StageThreads* run) {
  for (int t = 0; t < threads; ++t) analyzers_.push_back(analyzer.Clone());
  running_ = threads;
  for (int t = 0; t < threads; ++t) {
    run->Start(
        "inference thread",
        [this, in, out, local = analyzers_[t].get()] {
          InferAll(*local, in, out);
          return Status::Ok();
        },
        [this, out] {
          if (--running_ == 0) out->Close();
        });
  }
}

void InferenceStage::InferAll(FaceAnalyzer& analyzer, BoundedQueue<DecodedAsset>* in, BoundedQueue<ScanOutcome>* out) {
  FlushDenormalsOnThisThread();
  const size_t images_per_call = static_cast<size_t>(std::max(1, options_.images_per_detect_call));
  std::vector<ScanOutcome> held;
  std::vector<cv::Mat> crops;
  std::vector<DecodedAsset> taken;
  bool open = true;
  auto flush = [&] {
    Status status =
        CatchEscapes("embed", [&] { return EmbedInto(analyzer, crops, options_.faces_per_call, clock_, &held); });
    if (!status.ok()) {
      for (auto& o : held) {
        if (o.state != ScanState::kError) o = ErrorOutcome(std::move(o.asset), status);
      }
    }
    for (auto& o : held) {
      if (!out->Push(std::move(o))) open = false;
    }
    held.clear();
    crops.clear();
  };
  while (open) {
    auto item = held.empty() ? in->Pop() : in->TryPop();
    if (!item) {
      if (held.empty()) break;  // closed and drained
      flush();
      continue;
    }
    taken.push_back(std::move(*item));
    item.reset();
    // Images join one detector call only when they are already waiting: none is held back to fill a batch.
    while (taken.size() < images_per_call) {
      auto more = in->TryPop();
      if (!more) break;
      taken.push_back(std::move(*more));
    }
    DetectAndAlignTaken(analyzer, taken, &held, &crops);
    taken.clear();  // free the pixels before waiting for more
    if (static_cast<int>(crops.size()) >= options_.faces_per_call) flush();
  }
}

void InferenceStage::DetectAndAlignTaken(FaceAnalyzer& analyzer, const std::vector<DecodedAsset>& taken,
                                         std::vector<ScanOutcome>* held, std::vector<cv::Mat>* crops) {
  // An exception in one asset's work is that asset's error.
  std::vector<Status> ready;
  std::vector<cv::Mat> images;
  for (const auto& item : taken) {
    ready.push_back(CatchEscapes(item.asset.path, [&] {
      CallStageHook("detect", item.asset);
      return item.image.status();
    }));
    if (ready.back().ok()) images.push_back(item.image->bgr);
  }
  std::vector<std::vector<FaceDetection>> together;
  if (images.size() > 1) {
    // A failed batch is not any one image's error: each image is then detected alone, so it gets its own outcome.
    Status batch = CatchEscapes("detect", [&]() -> Status {
      auto timer = clock_->Start("detect");
      FACEFILL_ASSIGN_OR_RETURN(together, analyzer.DetectBatch(images));
      return Status::Ok();
    });
    if (!batch.ok() || together.size() != images.size()) together.clear();
  }
  detect_calls_ += together.empty() ? static_cast<int64_t>(images.size()) : 1;
  size_t next = 0;
  for (size_t i = 0; i < taken.size(); ++i) {
    ScanOutcome outcome;
    outcome.asset = taken[i].asset;
    const size_t crops_before = crops->size();
    Status status = CatchEscapes(taken[i].asset.path, [&]() -> Status {
      FACEFILL_RETURN_IF_ERROR(ready[i]);
      const DecodedImage& image = *taken[i].image;
      if (together.empty()) return DetectAndAlign(analyzer, image, options_, clock_, &outcome, crops);
      return AlignKept(analyzer, image, together[next++], options_, clock_, &outcome, crops);
    });
    if (!status.ok()) crops->resize(crops_before);  // an error outcome has no faces to embed
    held->push_back(status.ok() ? std::move(outcome) : ErrorOutcome(std::move(outcome.asset), status));
  }
}

}  // namespace facefill::pipeline
