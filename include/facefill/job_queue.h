// The Redis job queue: `backfill --queue` enqueues a job and returns; `facefill worker` processes take it. Every
// worker joins the oldest running job, so many machines share one job (their assets come from catalog leases); a
// job whose workers all stopped heartbeating (visibility timeout) is taken over by the next free worker.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "facefill/status.h"

namespace facefill {

// Where a job is in its life: queued -> running -> done | failed, or cancelled from queued or running.
enum class JobStatus { kQueued, kRunning, kDone, kFailed, kCancelled };

// The status's stable name ("running"), as stored in Redis and printed by `facefill jobs`.
std::string_view JobStatusName(JobStatus status);
// The status a name stands for; nullopt for a name that is none of them.
std::optional<JobStatus> ParseJobStatus(std::string_view name);

struct JobInfo {
  std::string id;
  JobStatus status = JobStatus::kQueued;
  std::string params;  // JSON: the backfill options the job runs with
  int64_t total = 0;   // pending assets when the job started
  int64_t processed = 0, faces = 0, no_faces = 0, errors = 0;
  int64_t takeovers = 0;  // times a worker took the job over from workers that had stopped
  double created_at = 0, started_at = 0, finished_at = 0;  // Unix seconds; 0: not yet
  std::string error;                                       // why it failed
  std::vector<std::string> live_workers;
};

struct JobCounts {
  int64_t processed = 0, faces = 0, no_faces = 0, errors = 0;
};

struct QueueOptions {
  std::string prefix = "facefill";              // key prefix, so several deployments can share a Redis
  std::chrono::seconds visibility_timeout{30};  // a worker silent this long is considered gone
};

class JobQueue {
 public:
  virtual ~JobQueue() = default;

  // Queues a job with these parameters; returns its id.
  virtual Result<std::string> Enqueue(const std::string& params_json) = 0;
  // A job for `worker`: the oldest running one (joining it), else the next queued one, waiting up to `wait`.
  virtual Result<std::optional<JobInfo>> Take(const std::string& worker, std::chrono::milliseconds wait) = 0;
  // Renews `worker`'s membership of the job and adds what it did since the last call. Returns the job's status
  // (so a worker sees a cancel).
  virtual Result<JobStatus> Report(const std::string& job_id, const std::string& worker, const JobCounts& delta) = 0;
  // Records the job's total (pending assets when work started); only the first call counts.
  virtual Status SetTotal(const std::string& job_id, int64_t total) = 0;
  // The worker stops working on the job (it may still be running elsewhere).
  virtual Status Leave(const std::string& job_id, const std::string& worker) = 0;
  // Marks the job done or failed (with `error`) unless it was cancelled.
  virtual Status Finish(const std::string& job_id, bool ok, const std::string& error) = 0;
  // Cancels a queued or running job: its workers drain, commit and stop.
  virtual Status Cancel(const std::string& job_id) = 0;
  virtual Result<JobInfo> Get(const std::string& job_id) = 0;
  // Most recent first.
  virtual Result<std::vector<JobInfo>> List(int limit) = 0;
};

// redis://[:password@]host[:port][/db] (password also from FACEFILL_REDIS_PASSWORD or FACEFILL_REDIS_PASSWORD_FILE).
Result<std::unique_ptr<JobQueue>> OpenJobQueue(const std::string& url, const QueueOptions& options = {});

}  // namespace facefill
