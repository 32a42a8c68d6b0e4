// The live part of the Status page: what a backfill running in another process has done so far, read from the
// catalog at each poll (counts, live leases and their holders), its pace over the recent polls, and the progress of
// the queued jobs when there is a job queue.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>

#include "facefill/catalog.h"
#include "facefill/job_queue.h"
#include "facefill/status.h"

namespace facefill::web {

struct LiveProgressOptions {
  std::chrono::seconds rate_window{30};  // the pace is measured over the polls of this last stretch of time
  int max_jobs = 10;                     // most recent jobs shown
};

// Thread-safe: polls are serialised (the pace is one history for every page that polls).
class LiveProgress {
 public:
  // `queue` may be null (no queue given). Both must outlive this.
  LiveProgress(Catalog& catalog, JobQueue* queue, LiveProgressOptions options = {})
      : catalog_(catalog), queue_(queue), options_(options) {}

  // {assets, scanned, errors, pending, faces, no_faces, errors_by_reason, processed (scanned + errors), leased,
  //  holders: [{owner, assets, expires_in_s}], rate (assets per second over the window; null until two polls at
  //  least half a second apart), eta_s (null without a pace), running, queue: bool,
  //  jobs: [{id, status, total, processed, faces, no_faces, errors, percent, rate, workers, error}],
  //  queue_error (when the queue could not be read)}.
  // A catalog that cannot be read is an error; a queue that cannot be read is reported in queue_error.
  Result<nlohmann::json> Poll(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

 private:
  Catalog& catalog_;
  JobQueue* const queue_;
  const LiveProgressOptions options_;
  std::mutex mutex_;
  std::deque<std::pair<std::chrono::steady_clock::time_point, int64_t>> samples_;  // guarded by mutex_
};

}  // namespace facefill::web
