// The writer stage: batching outcomes into transactions, and the writes themselves.
#include "writer_stage.h"

#include "face_records.h"
#include "thread_boundary.h"

namespace facefill::pipeline {

Status BatchWriter::Write(std::vector<ScanOutcome>* batch, BackfillReport* report) {
  if (batch->empty()) return Status::Ok();
  auto timer = clock_->Start("write");
  std::vector<int64_t> ids;
  for (const auto& o : *batch) ids.push_back(o.asset.id);
  auto stored = catalog_.FacesOfAssets(ids);
  if (!stored.ok()) return stored.status();
  std::vector<const FaceRecord*> new_points, kept_points;
  for (auto& o : *batch) {
    if (o.state == ScanState::kError) continue;
    MatchStoredFaces(&o, (*stored)[o.asset.id], catalog_.IsServiceDatabase());
    for (const auto& f : o.faces) (f.stored ? kept_points : new_points).push_back(&f);
  }
  // Vectors first: a crash after this leaves overwritable vectors, never a face row without its vector. A kept
  // face's point is updated in place, so the payload the service owns stays as it is.
  const bool own_vectors = !vectors_.WrittenByCatalog();
  if (own_vectors) {
    FACEFILL_RETURN_IF_ERROR(vectors_.Upsert(new_points));
    FACEFILL_RETURN_IF_ERROR(vectors_.UpdateVectors(kept_points));
  }
  std::vector<std::string> deleted;
  FACEFILL_RETURN_IF_ERROR(catalog_.CommitScans(*batch, model_id_, lease_owner_, &deleted));
  if (own_vectors) FACEFILL_RETURN_IF_ERROR(vectors_.Delete(deleted));
  for (const auto& o : *batch) report->kept_not_redetected += o.kept_not_redetected;
  for (const auto& o : *batch) {
    ++report->progress.processed;
    report->progress.faces += static_cast<int64_t>(o.faces.size());
    if (o.state == ScanState::kNoFaces) ++report->progress.no_faces;
    if (o.state == ScanState::kError) {
      ++report->progress.errors;
      ++report->errors_by_reason[std::string(StatusCodeName(o.error.code()))];
    }
  }
  batch->clear();
  return Status::Ok();
}

void ProgressTicker::Tick(BackfillProgress* progress) {
  if (!on_progress_) return;
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_).count() < interval_seconds_) return;
  last_ = now;
  progress->elapsed_seconds = std::chrono::duration<double>(now - start_).count();
  on_progress_(*progress);
}

Status RunWriterStage(BatchWriter& writer, const BackfillOptions& options, ProgressTicker& progress,
                      BoundedQueue<ScanOutcome>* in, RunControl* control, BackfillReport* report) {
  using Clock = std::chrono::steady_clock;
  std::vector<ScanOutcome> batch;
  Status write_status;
  auto batch_started = Clock::now();
  const auto max_wait = std::chrono::milliseconds(options.max_write_wait_ms);
  while (true) {
    bool closed = false;
    auto outcome = in->PopFor(std::chrono::milliseconds(100), &closed);
    if (outcome) {
      if (batch.empty()) batch_started = Clock::now();
      batch.push_back(std::move(*outcome));
    }
    const bool due = static_cast<int>(batch.size()) >= options.write_batch ||
                     (!batch.empty() && Clock::now() - batch_started >= max_wait) || closed;
    if (due && write_status.ok()) {
      write_status = CatchEscapes("writer", [&] { return writer.Write(&batch, report); });
      // A failed write is sticky: stop everything, commit nothing more, report the error.
      if (!write_status.ok()) control->Stop(write_status);
    }
    Status reported = CatchEscapes("progress callback", [&] { progress.Tick(&report->progress); });
    if (!reported.ok() && write_status.ok()) {
      write_status = reported;
      control->Stop(reported);
    }
    if (closed) break;
  }
  return write_status;
}

}  // namespace facefill::pipeline
