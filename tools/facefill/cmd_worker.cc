// `facefill worker`: runs queued backfill jobs against the shared catalog until stopped (SIGINT/SIGTERM drain).
#include <spdlog/spdlog.h>

#include <iostream>

#include "commands.h"
#include "core/process_tuning.h"
#include "facefill/runtime.h"
#include "facefill/url.h"
#include "facefill/worker.h"
#include "model_flags.h"
#include "pipeline_flags.h"
#include "queue_flags.h"
#include "signals.h"
#include "store_flags.h"

namespace facefill::cli {
namespace {

struct WorkerFlags {
  StoreFlags stores;
  ModelFlags models;
  WorkerOptions options;
  std::string queue;
  int visibility_seconds = 30;
};

int Run(WorkerFlags& flags) {
  const std::atomic<bool>* stop = InstallDrainSignals();
  TuneAllocatorForLargeBuffers();
  Stores stores;
  if (!OpenStores(flags.stores, &stores)) return kExitUsage;
  QueueOptions queue_options;
  queue_options.visibility_timeout = std::chrono::seconds(flags.visibility_seconds);
  const std::string queue_url = QueueUrl(flags.queue, flags.stores.service_env);
  if (queue_url.empty()) {
    spdlog::error("no job queue: give --queue redis://HOST:PORT/DB (or $FACEFILL_QUEUE, or --service-env)");
    return kExitUsage;
  }
  auto queue = OpenJobQueue(queue_url, queue_options);
  if (!queue.ok()) {
    spdlog::error("{}", queue.status().ToString());
    return kExitUsage;
  }
  auto analyzer = OpenAnalyzer(flags.models, flags.models.threads >= 0 ? flags.models.threads : 1);
  if (!analyzer) return kExitUsage;
  if (flags.options.worker_id.empty()) flags.options.worker_id = DefaultLeaseOwner();
  spdlog::info("worker {} ready: catalog {}, vectors {}", flags.options.worker_id, RedactUrl(flags.stores.db),
               stores.vectors->Describe());
  auto report = RunWorker(**queue, *stores.catalog, *stores.vectors, *analyzer, flags.options, stop,
                          [](const std::string& line) { spdlog::info("{}", line); });
  if (!report.ok()) {
    spdlog::error("worker stopped: {}", report.status().ToString());
    return kExitFailure;
  }
  std::cout << "worker " << flags.options.worker_id << ": " << report->jobs << " job(s), " << report->processed
            << " assets, " << report->faces << " faces\n";
  return kExitOk;
}

}  // namespace

void RegisterWorker(CLI::App* app) {
  auto flags = std::make_shared<WorkerFlags>();
  CLI::App* cmd = app->add_subcommand("worker", "Run queued backfill jobs (Redis) on a shared PostgreSQL catalog");
  AddStoreFlags(cmd, &flags->stores);
  AddModelFlags(cmd, &flags->models);
  AddMaxFacesFlag(cmd, &flags->models);
  AddQueueFlag(cmd, &flags->queue);
  AddPipelineFlags(cmd, &flags->options.backfill);
  cmd->add_option("--visibility-timeout", flags->visibility_seconds,
                  "Seconds without a heartbeat after which this worker counts as gone")
      ->capture_default_str();
  cmd->add_option("--worker-id", flags->options.worker_id, "Name in leases and job status (default HOST:PID:RANDOM)");
  cmd->add_flag("--exit-when-idle", flags->options.exit_when_idle, "Stop when no job is queued or running");
  cmd->final_callback([flags, cmd] {
    PlanPipelineForDevice(*cmd, flags->models.device, &flags->options.backfill);
    throw CommandResult(Run(*flags));
  });
}

}  // namespace facefill::cli
