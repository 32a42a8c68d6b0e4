// The worker loop: take a job, run the backfill on leased assets until none is left, report progress and
// heartbeats as it goes, finish the job when the whole catalog is scanned.
#include "facefill/worker.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "../pipeline/thread_boundary.h"

namespace facefill {

std::string JobParamsJson(const BackfillOptions& o, const std::string& model_id) {
  return nlohmann::json{{"model_id", model_id},
                        {"min_confidence", o.min_confidence},
                        {"min_face_size", o.min_face_size},
                        {"retry_errors", o.retry_errors}}
      .dump();
}

namespace {

// Applies a job's parameters to `o`; an error when the job was queued for another model pack.
Status ApplyJobParams(const std::string& params_json, const std::string& model_id, BackfillOptions* o) {
  auto j = nlohmann::json::parse(params_json, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status(StatusCode::kInvalidArgument, "job parameters are not a JSON object");
  try {
    const std::string wanted = j.value("model_id", "");
    if (wanted != model_id) {
      return Status(StatusCode::kInvalidArgument,
                    "job was queued for model pack '" + wanted + "' but this worker runs '" + model_id + "'");
    }
    o->min_confidence = j.value("min_confidence", o->min_confidence);
    o->min_face_size = j.value("min_face_size", o->min_face_size);
    o->retry_errors = j.value("retry_errors", o->retry_errors);
  } catch (const nlohmann::json::exception& e) {
    return Status(StatusCode::kInvalidArgument, std::string("bad job parameters: ") + e.what());
  }
  return o->Validate();
}

// Runs one job on this worker until it is finished, cancelled, or the worker is stopped.
Status WorkOnJob(JobQueue& queue, Catalog& catalog, VectorStore& vectors, FaceAnalyzer& analyzer,
                 const WorkerOptions& options, const std::string& worker, const JobInfo& job,
                 const std::atomic<bool>* stop, const WorkerLog& log, WorkerReport* report) {
  BackfillOptions backfill = options.backfill;
  backfill.lease_owner = worker;
  backfill.rescan = false;
  backfill.offset = 0;
  FACEFILL_RETURN_IF_ERROR(ApplyJobParams(job.params, analyzer.pack().id, &backfill));
  auto pending = catalog.CountPending(PendingQuery{0, 0, backfill.retry_errors, false});
  if (!pending.ok()) return pending.status();
  FACEFILL_RETURN_IF_ERROR(queue.SetTotal(job.id, *pending));
  std::atomic<bool> job_stop{false};
  JobStatus job_status = JobStatus::kRunning;
  Status report_status;
  while (true) {
    BackfillProgress last;
    auto on_progress = [&](const BackfillProgress& p) {
      if (!report_status.ok()) return;  // the queue is gone: the run is already draining
      JobCounts delta{p.processed - last.processed, p.faces - last.faces, p.no_faces - last.no_faces,
                      p.errors - last.errors};
      last = p;
      auto status = queue.Report(job.id, worker, delta);
      if (status.status().code() == StatusCode::kNotFound) {  // removed from the queue: nothing left to work for
        job_stop = true;
        return;
      }
      if (!status.ok()) {
        report_status = status.status();
        job_stop = true;
        return;
      }
      job_status = *status;
      if (job_status != JobStatus::kRunning || (stop != nullptr && stop->load())) job_stop = true;
    };
    on_progress(last);  // heartbeat before starting
    if (job_stop) break;
    auto run = RunBackfill(catalog, vectors, analyzer, backfill, &job_stop, on_progress, 1.0);
    if (!run.ok()) return run.status();
    report->processed += run->progress.processed;
    report->faces += run->progress.faces;
    if (job_stop || (stop != nullptr && stop->load())) break;
    // Nothing left to claim: done when no asset is pending (leased ones included), else wait for leases held by
    // other workers to be committed or to expire.
    auto left = catalog.CountPending(PendingQuery{0, 0, false, false});
    if (!left.ok()) return left.status();
    if (*left == 0) {
      if (log) log(fmt::format("job {}: every asset is scanned", job.id));
      FACEFILL_RETURN_IF_ERROR(queue.Finish(job.id, true, ""));
      break;
    }
    auto live = catalog.CountLiveLeases();
    if (!live.ok()) return live.status();
    if (*live > 0 || run->progress.processed == 0) std::this_thread::sleep_for(options.poll);
  }
  FACEFILL_RETURN_IF_ERROR(report_status);
  if (job_status == JobStatus::kCancelled && log) log(fmt::format("job {}: cancelled", job.id));
  return queue.Leave(job.id, worker);
}

// RunWorker's loop, inside its exception boundary.
Result<WorkerReport> WorkerLoop(JobQueue& queue, Catalog& catalog, VectorStore& vectors, FaceAnalyzer& analyzer,
                                const WorkerOptions& options, const std::atomic<bool>* stop, const WorkerLog& log) {
  if (!catalog.SupportsClaims()) {
    return Status(StatusCode::kInvalidArgument, "workers need a catalog they can share: use --db postgresql://...");
  }
  FACEFILL_RETURN_IF_ERROR(options.backfill.Validate());
  const std::string worker = options.worker_id.empty() ? DefaultLeaseOwner() : options.worker_id;
  WorkerReport report;
  while (stop == nullptr || !stop->load()) {
    auto job = queue.Take(worker, options.poll);
    if (!job.ok()) return job.status();
    if (!job->has_value()) {
      if (options.exit_when_idle) break;
      continue;
    }
    const JobInfo& info = **job;
    if (log) log(fmt::format("worker {} took job {}", worker, info.id));
    ++report.jobs;
    // An exception escaping the job's work (a store or queue client throwing) is this worker's error, like a
    // failing store: the job stays with the others and this worker stops cleanly instead of ending the process.
    Status status = pipeline::CatchEscapes("worker " + worker, [&] {
      return WorkOnJob(queue, catalog, vectors, analyzer, options, worker, info, stop, log, &report);
    });
    if (!status.ok()) {
      // A job that cannot run here (bad parameters, other model) fails; a failing store stops this worker and the
      // job stays with the others (or the next worker, once this one's heartbeat lapses).
      (void)queue.Leave(info.id, worker);
      if (status.code() == StatusCode::kInvalidArgument) {
        FACEFILL_RETURN_IF_ERROR(queue.Finish(info.id, false, status.ToString()));
        if (log) log(fmt::format("job {} failed: {}", info.id, status.ToString()));
        continue;
      }
      return status;
    }
  }
  return report;
}

}  // namespace

Result<WorkerReport> RunWorker(JobQueue& queue, Catalog& catalog, VectorStore& vectors, FaceAnalyzer& analyzer,
                               const WorkerOptions& options, const std::atomic<bool>* stop, const WorkerLog& log) {
  Result<WorkerReport> report = Status(StatusCode::kInternal, "not run");
  Status escaped = pipeline::CatchEscapes(
      "worker", [&] { report = WorkerLoop(queue, catalog, vectors, analyzer, options, stop, log); });
  if (!escaped.ok()) return escaped;
  return report;
}

}  // namespace facefill
