// `facefill worker`: takes backfill jobs from the queue and runs them against the shared catalog, until stopped.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "facefill/analyzer.h"
#include "facefill/backfill.h"
#include "facefill/job_queue.h"

namespace facefill {

struct WorkerOptions {
  BackfillOptions backfill;              // this machine's settings (threads, batches); a job sets the filters
  std::string worker_id;                 // empty: DefaultLeaseOwner()
  std::chrono::milliseconds poll{1000};  // wait for a job, and between checks for leases to expire
  bool exit_when_idle = false;           // return when no job is queued or running
};

struct WorkerReport {
  int jobs = 0;           // jobs this worker took part in
  int64_t processed = 0;  // assets it committed
  int64_t faces = 0;
};

using WorkerLog = std::function<void(const std::string&)>;

// Runs jobs until `stop` is set (then drains and commits in-flight work) or, with exit_when_idle, until there is
// nothing to do. A job is finished (done) by the worker that sees no pending asset and no live lease left.
Result<WorkerReport> RunWorker(JobQueue& queue, Catalog& catalog, VectorStore& vectors, FaceAnalyzer& analyzer,
                               const WorkerOptions& options, const std::atomic<bool>* stop, const WorkerLog& log = {});

// A job's parameters (for JobQueue::Enqueue): the options that change what is stored (filters, retry) and the
// model pack id. A worker running another model pack refuses the job.
std::string JobParamsJson(const BackfillOptions& options, const std::string& model_id);

}  // namespace facefill
