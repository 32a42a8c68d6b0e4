// The backfill: feed -> decode stage -> inference stage (detect, align, embed batched across images) -> writer
// stage (vectors upsert, then one catalog transaction per batch), joined by bounded queues; or, with sequential,
// the same steps one asset at a time.
#include "facefill/backfill.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "asset_feed.h"
#include "bounded_queue.h"
#include "containment.h"
#include "decode_stage.h"
#include "facefill/model_guard.h"
#include "inference_stage.h"
#include "lease_heartbeat.h"
#include "run_control.h"
#include "stage_clock.h"
#include "thread_boundary.h"
#include "writer_stage.h"

namespace facefill {
namespace {

using pipeline::BoundedQueue;
using pipeline::CatchEscapes;
using pipeline::StageClock;
using Clock = std::chrono::steady_clock;

bool Cancelled(const std::atomic<bool>* cancel) { return cancel != nullptr && cancel->load(); }

// How many assets this run will process: pending ones after offset, capped by limit.
Result<int64_t> PlannedTotal(Catalog& catalog, const BackfillOptions& options) {
  auto pending = catalog.CountPending(PendingQuery{0, 0, options.retry_errors, options.rescan});
  if (!pending.ok()) return pending.status();
  int64_t total = std::max<int64_t>(0, *pending - options.offset);
  return options.limit > 0 ? std::min(total, options.limit) : total;
}

// The roots `scan` recorded plus those given in the options.
Result<pipeline::Containment> LoadContainment(Catalog& catalog, const BackfillOptions& options) {
  auto roots = catalog.LibraryRoots();
  if (!roots.ok()) return roots.status();
  roots->insert(roots->end(), options.library_roots.begin(), options.library_roots.end());
  return pipeline::Containment(*roots);
}

bool UsesClaims(const Catalog& catalog, const BackfillOptions& options) {
  return catalog.SupportsClaims() && !options.rescan && options.offset == 0;
}

void FinishReport(const StageClock& clock, const std::vector<std::pair<std::string, int>>& stage_threads,
                  Clock::time_point start, BackfillReport* report) {
  report->wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  report->progress.elapsed_seconds = report->wall_seconds;
  const double wall = std::max(report->wall_seconds, 1e-9);
  report->images_per_second = report->progress.processed / wall;
  report->faces_per_second = report->progress.faces / wall;
  double worst = -1;
  for (const auto& [name, threads] : stage_threads) {
    StageTime stage{name, threads, clock.Seconds(name), 0};
    stage.utilisation = stage.busy_seconds / (threads * wall);
    if (stage.utilisation > worst) worst = stage.utilisation, report->bottleneck = name;
    report->stages.push_back(stage);
  }
}

// The old algorithm, kept as the baseline: one asset at a time through the same steps, every face embedded in its
// own call, one commit and one vector write per asset.
Result<BackfillReport> RunSequential(Catalog& catalog, VectorStore& vectors, FaceAnalyzer& analyzer,
                                     const BackfillOptions& options, const std::string& owner,
                                     const std::atomic<bool>* cancel, const ProgressCallback& on_progress,
                                     double interval) {
  BackfillReport report;
  StageClock clock;
  const auto start = Clock::now();
  pipeline::ProgressTicker progress(on_progress, interval, start);
  pipeline::BatchWriter writer(catalog, vectors, analyzer.pack().id, owner, &clock);
  FACEFILL_ASSIGN_OR_RETURN(pipeline::Containment containment, LoadContainment(catalog, options));
  FACEFILL_ASSIGN_OR_RETURN(report.progress.total, PlannedTotal(catalog, options));
  Status write_status;
  Status fed = pipeline::FeedAssets(
      catalog, options, owner, [&] { return Cancelled(cancel); },
      [&](AssetRecord asset) {
        std::vector<ScanOutcome> one;
        Status status = CatchEscapes(asset.path, [&]() -> Status {
          ScanOutcome outcome;
          outcome.asset = asset;
          pipeline::CallStageHook("decode", asset);
          Result<DecodedImage> image = pipeline::DecodeAsset(asset, containment, options.decode, &clock);
          std::vector<cv::Mat> crops;
          pipeline::CallStageHook("detect", asset);
          FACEFILL_RETURN_IF_ERROR(image.ok()
                                       ? pipeline::DetectAndAlign(analyzer, *image, options, &clock, &outcome, &crops)
                                       : image.status());
          one.push_back(std::move(outcome));
          return pipeline::EmbedInto(analyzer, crops, 1, &clock, &one);
        });
        if (!status.ok()) {
          one.clear();
          one.push_back(pipeline::ErrorOutcome(std::move(asset), status));
        }
        write_status = CatchEscapes("writer", [&] { return writer.Write(&one, &report); });
        progress.Tick(&report.progress);
        return write_status.ok();
      });
  FACEFILL_RETURN_IF_ERROR(fed);
  FACEFILL_RETURN_IF_ERROR(write_status);
  report.cancelled = Cancelled(cancel);
  FinishReport(clock, {{"decode", 1}, {"detect", 1}, {"align", 1}, {"embed", 1}, {"write", 1}}, start, &report);
  if (on_progress) on_progress(report.progress);
  return report;
}

// The pipelined run: the feed, decode and inference stages on their own threads, the writer stage on this one,
// joined by bounded queues. Every thread body is an exception boundary: an escape in one asset's work is that
// asset's error; one anywhere else is the run's error and stops the run like a failed write.
Result<BackfillReport> RunPipelined(Catalog& catalog, VectorStore& vectors, FaceAnalyzer& analyzer,
                                    const BackfillOptions& options, const std::string& owner,
                                    const std::atomic<bool>* cancel, const ProgressCallback& on_progress,
                                    double interval) {
  const int inference_threads =
      options.inference_threads > 0 ? options.inference_threads : std::max(1u, std::thread::hardware_concurrency());
  BackfillReport report;
  StageClock clock;
  const auto start = Clock::now();
  FACEFILL_ASSIGN_OR_RETURN(pipeline::Containment containment, LoadContainment(catalog, options));
  FACEFILL_ASSIGN_OR_RETURN(report.progress.total, PlannedTotal(catalog, options));

  // Queue sizes bound memory: per inference thread, one detector call's images (plus one) wait for inference.
  BoundedQueue<AssetRecord> to_decode(static_cast<size_t>(4 * options.decode_threads));
  BoundedQueue<pipeline::DecodedAsset> to_infer(
      static_cast<size_t>((std::max(1, options.images_per_detect_call) + 1) * inference_threads));
  BoundedQueue<ScanOutcome> to_write(static_cast<size_t>(2 * options.assets_per_commit));
  pipeline::RunControl control([&] {
    to_decode.Close();
    to_infer.Close();
    to_write.Close();
  });

  pipeline::DecodeStage decode(containment, options.decode, &clock);
  pipeline::InferenceStage inference(options, &clock);
  pipeline::BatchWriter writer(catalog, vectors, analyzer.pack().id, owner, &clock);
  pipeline::ProgressTicker progress(on_progress, interval, start);
  Status feed_status, write_status;
  {
    // Declared after everything its threads use: whatever leaves this scope, they are stopped and joined first.
    pipeline::StageThreads threads(&control);
    pipeline::StartFeedStage(
        catalog, options, owner, [&] { return Cancelled(cancel) || control.stopped(); }, &to_decode, &feed_status,
        &threads);
    decode.Start(options.decode_threads, &to_decode, &to_infer, &threads);
    inference.Start(analyzer, inference_threads, &to_infer, &to_write, &threads);
    write_status = pipeline::RunWriterStage(writer, options, progress, &to_write, &control, &report);
    threads.JoinAll();
  }
  FACEFILL_RETURN_IF_ERROR(write_status);
  FACEFILL_RETURN_IF_ERROR(control.status());
  FACEFILL_RETURN_IF_ERROR(feed_status);
  report.cancelled = Cancelled(cancel);
  report.detect_calls = inference.detect_calls();
  FinishReport(clock,
               {{"decode", options.decode_threads},
                {"detect", inference_threads},
                {"align", inference_threads},
                {"embed", inference_threads},
                {"write", 1}},
               start, &report);
  if (on_progress) on_progress(report.progress);
  return report;
}

}  // namespace

std::string DefaultLeaseOwner() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::random_device random;
  return fmt::format("{}:{}:{:08x}", host, getpid(), random());
}

Result<BackfillReport> RunBackfill(Catalog& catalog, VectorStore& vectors, FaceAnalyzer& analyzer,
                                   const BackfillOptions& options, const std::atomic<bool>* cancel,
                                   const ProgressCallback& on_progress, double interval) {
  FACEFILL_RETURN_IF_ERROR(options.Validate());
  // Before any image is read: the store takes this model's vectors, and holds no other model's.
  ModelGuardOptions guard_options;
  guard_options.force = options.force_model;
  auto guard = GuardVectorModel(catalog, vectors, analyzer, guard_options);
  if (!guard.ok()) return guard.status();
  std::string owner;
  if (UsesClaims(catalog, options)) owner = options.lease_owner.empty() ? DefaultLeaseOwner() : options.lease_owner;
  Result<BackfillReport> report = Status(StatusCode::kInternal, "not run");
  {
    pipeline::LeaseHeartbeat heartbeat(catalog, owner, options.lease_seconds);
    Status run = CatchEscapes("backfill", [&] {
      report = options.sequential
                   ? RunSequential(catalog, vectors, analyzer, options, owner, cancel, on_progress, interval)
                   : RunPipelined(catalog, vectors, analyzer, options, owner, cancel, on_progress, interval);
    });
    if (!run.ok()) report = run;
  }
  if (report.ok()) report->model_guard = *guard;
  if (owner.empty()) return report;
  // Leases on assets this run did not commit (cancelled, or stopped by an error) go back at once rather than when
  // they expire. Best effort: when the database is gone they expire on their own.
  (void)CatchEscapes("releasing leases", [&] { return catalog.ReleaseLeases(owner); });
  if (report.ok()) {
    // Assets others still hold are not done: say whose and until when (best effort, like the release).
    (void)CatchEscapes("listing leases", [&]() -> Status {
      auto others = pipeline::OtherHolders(catalog, owner);
      if (others.ok()) report->leased_elsewhere = std::move(others).value();
      return others.status();
    });
  }
  return report;
}

void PlanForDevice(const Device& device, unsigned cores, const ChosenSettings& chosen, BackfillOptions* options) {
  if (device.kind != Device::Kind::kCuda) return;
  if (!chosen.inference_threads) options->inference_threads = 1;
  if (!chosen.decode_threads) options->decode_threads = static_cast<int>(std::max(2u, cores));
  if (!chosen.images_per_detect_call) options->images_per_detect_call = 8;
}

Status BackfillOptions::Validate() const {
  if (limit < 0 || offset < 0) return Status(StatusCode::kInvalidArgument, "limit and offset must be >= 0");
  if (faces_per_call < 1) return Status(StatusCode::kInvalidArgument, "faces per call must be >= 1");
  if (images_per_detect_call < 1) {
    return Status(StatusCode::kInvalidArgument, "images per detect call must be >= 1");
  }
  if (decode_threads < 1) return Status(StatusCode::kInvalidArgument, "decode threads must be >= 1");
  if (inference_threads < 0) return Status(StatusCode::kInvalidArgument, "inference threads must be >= 0");
  if (assets_per_commit < 1) return Status(StatusCode::kInvalidArgument, "assets per commit must be >= 1");
  if (min_face_size < 0) return Status(StatusCode::kInvalidArgument, "min face size must be >= 0");
  if (assets_per_lease < 1 || lease_seconds < 1) {
    return Status(StatusCode::kInvalidArgument, "assets per lease and lease seconds must be >= 1");
  }
  return decode.Validate();
}

}  // namespace facefill
