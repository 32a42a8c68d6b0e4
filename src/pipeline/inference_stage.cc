// The inference stage: detect -> align per image, embed batched across images, on each thread's analyzer clone.
#include "inference_stage.h"

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

Status DetectAndAlign(FaceAnalyzer& analyzer, const DecodedImage& image, const BackfillOptions& options,
                      StageClock* clock, ScanOutcome* outcome, std::vector<cv::Mat>* crops) {
  Result<std::vector<FaceDetection>> detections = Status(StatusCode::kInternal, "");
  {
    auto timer = clock->Start("detect");
    detections = analyzer.Detect(image.bgr);
  }
  if (!detections.ok()) return detections.status();
  std::vector<size_t> kept;
  outcome->faces = ToFaceRecords(outcome->asset, *detections, image.scale, options, analyzer.pack().id, &kept);
  outcome->state = outcome->faces.empty() ? ScanState::kNoFaces : ScanState::kDone;
  auto timer = clock->Start("align");
  std::vector<FiveLandmarks> landmarks;
  for (size_t i : kept) landmarks.push_back((*detections)[i].landmarks);
  return AlignFaces(analyzer, image, landmarks, outcome->asset.path, crops);
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
  std::vector<ScanOutcome> held;
  std::vector<cv::Mat> crops;
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
    ScanOutcome outcome;
    outcome.asset = item->asset;
    const size_t crops_before = crops.size();
    // An exception in one asset's work is that asset's error.
    Status status = CatchEscapes(item->asset.path, [&] {
      CallStageHook("detect", item->asset);
      return item->image.ok() ? DetectAndAlign(analyzer, *item->image, options_, clock_, &outcome, &crops)
                              : item->image.status();
    });
    if (!status.ok()) crops.resize(crops_before);  // an error outcome has no faces to embed
    item.reset();                                  // free the pixels before waiting for more
    held.push_back(status.ok() ? std::move(outcome) : ErrorOutcome(std::move(outcome.asset), status));
    if (static_cast<int>(crops.size()) >= options_.faces_per_call) flush();
  }
}

}  // namespace facefill::pipeline
