// The backfill's writer stage: outcomes gathered into batches, each written as vectors then one catalog
// transaction; a failed write is sticky and stops the run.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "bounded_queue.h"
#include "facefill/backfill.h"
#include "facefill/catalog.h"
#include "facefill/vector_store.h"
#include "run_control.h"
#include "stage_clock.h"

namespace facefill::pipeline {

// Writes one batch: matches stored faces, upserts vectors, commits the batch, deletes vectors of faces that went
// away, and counts the batch into the report. Timed as "write".
class BatchWriter {
 public:
  BatchWriter(Catalog& catalog, VectorStore& vectors, std::string model_id, std::string lease_owner, StageClock* clock)
      : catalog_(catalog),
        vectors_(vectors),
        model_id_(std::move(model_id)),
        lease_owner_(std::move(lease_owner)),
        clock_(clock) {}

  // Writes and clears `batch`.
  Status Write(std::vector<ScanOutcome>* batch, BackfillReport* report);

 private:
  Catalog& catalog_;
  VectorStore& vectors_;
  std::string model_id_;
  std::string lease_owner_;
  StageClock* clock_;
};

// Calls a progress callback at most once per interval.
class ProgressTicker {
 public:
  ProgressTicker(const ProgressCallback& on_progress, double interval_seconds,
                 std::chrono::steady_clock::time_point start)
      : on_progress_(on_progress), interval_seconds_(interval_seconds), start_(start), last_(start) {}

  // Reports `progress` (with its elapsed time set) when the interval has passed since the last report.
  void Tick(BackfillProgress* progress);

 private:
  const ProgressCallback& on_progress_;
  const double interval_seconds_;
  const std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_;
};

// Runs the writer stage on the calling thread until `in` is closed and drained: batches of write_batch outcomes,
// or fewer after max_write_wait_ms. A failed write (or a progress callback that throws) stops the run through
// `control`, commits nothing more, and is returned.
Status RunWriterStage(BatchWriter& writer, const BackfillOptions& options, ProgressTicker& progress,
                      BoundedQueue<ScanOutcome>* in, RunControl* control, BackfillReport* report);

}  // namespace facefill::pipeline
